// A database with rows in every table, as a long-used installation has them: an admin who signed in,
// a Jira and a scanner integration with sealed credentials, imported findings, tickets, pull
// requests, jobs, runs, tokens and the small tables' rows. Values include what real data holds
// (quotes, non-ASCII, JSON documents, nulls, fractions, long text, a NUL left by an older version)
// and ids with gaps. Used to test that a copy of a database (migrate-to-postgres) misses nothing:
// emptyTables() checks the seeding against the schema's own list of tables.
import { type Kysely, sql } from "kysely";
import { importPage } from "../src/findings/import.js";
import { loadRepositoryIndex } from "../src/findings/repositories.js";
import { insertIntegration } from "../src/integrations/store.js";
import type { ScannerRecord } from "../src/connectors/types.js";
import { type TestApp, setUpAdmin, tableNames } from "./helpers.js";

/** Fills every table of the app's database (the admin is ADMIN). */
export async function seedEveryTable(app: TestApp, findings = 40): Promise<void> {
  const browser = await setUpAdmin(app); // users, sessions, audit_log, meta (the key check)
  await browser.get("/vulnerabilities");
  const db = app.runtime.database.db as unknown as Kysely<any>;
  const vault = app.runtime.vault;
  const now = app.clock.now();
  const at = now.toISOString();
  const jira = await insertIntegration(
    app.runtime.database.db,
    {
      kind: "jira",
      name: "Jira — “Platform”",
      settings: { baseUrl: "https://example.atlassian.net", email: "sec@example.com" },
      sealedSecrets: vault.sealSecrets({ apiToken: "jira-token-never-shown" }),
    },
    now,
  );
  const scanner = await insertIntegration(app.runtime.database.db, { kind: "ci-upload", name: "CI uploads", settings: {}, sealedSecrets: null }, now);
  // An integration made and deleted: ids have a gap, and the next one must not reuse it.
  const gone = await insertIntegration(app.runtime.database.db, { kind: "ci-upload", name: "removed", settings: {}, sealedSecrets: null }, now);
  await db.deleteFrom("integrations").where("id", "=", gone.id).execute();

  const repository = await db
    .insertInto("repositories")
    .values({
      integration_id: null,
      provider: "github",
      full_name: "acme/payments-api",
      url: "https://github.com/acme/payments-api",
      url_key: "github.com/acme/payments-api",
      default_branch: "main",
      visibility: "private",
      topics: JSON.stringify(["pci", "team-payments"]),
      codeowners: "* @acme/payments\n",
      remediation: JSON.stringify({ mode: "hybrid", maxOpen: 3 }),
      created_at: at,
      updated_at: at,
    })
    .returning("id")
    .executeTakeFirstOrThrow();

  const records: ScannerRecord[] = Array.from({ length: findings }, (_, i) => ({
    externalId: `upload-${i}`,
    raw: { i, note: i === 0 ? 'quote " and \\ and ünïcödé ✓' : "x".repeat(i * 50) },
    finding: {
      cve: `CVE-2026-${10000 + i}`,
      title: i === 1 ? "Prototype pollution in “lodash” — 'merge'" : `flaw ${i}`,
      description: i % 3 ? `A description\nover lines ${i}` : null,
      severity: (["critical", "high", "medium", "low"] as const)[i % 4]!,
      cvss: i % 2 ? 9.8 - i / 10 : null,
      ecosystem: "npm",
      package: `pkg-${i % 7}`,
      installedVersion: `1.${i}.0`,
      fixedVersion: i % 5 ? `1.${i}.1` : null,
      firstDetectedAt: at,
      lastSeenAt: at,
      asset:
        i % 2
          ? { kind: "repository", repositoryName: "acme/payments-api", url: "https://github.com/acme/payments-api", details: {} }
          : { kind: "container_image", key: `sha256:${"ab".repeat(32)}`, name: "registry.example/app:1", details: { tag: "1" } },
      url: `https://scanner.example/findings/${i}`,
    },
  }));
  await app.runtime.database.db
    .transaction()
    .execute(async (trx) =>
      importPage(trx, records, { integrationId: scanner.id, actor: "scanner: CI uploads", repositories: await loadRepositoryIndex(trx), now }),
    );
  const found = (await db.selectFrom("findings").select(["id", "asset_id"]).orderBy("id").execute()) as { id: number; asset_id: number }[];
  // Triage: a status change leaves an event and moves the totals.
  await db
    .updateTable("findings")
    .set({ status: "risk_accepted", status_reason: "Compensating control: WAF rule 42", updated_at: at })
    .where("id", "=", found[2]!.id)
    .execute();
  await db
    .insertInto("finding_events")
    .values({ finding_id: found[2]!.id, at, actor: "admin", from_status: "open", to_status: "risk_accepted", note: "Compensating control: WAF rule 42" })
    .execute();
  // A fix: the resolved finding counts toward Trends' time to remediate.
  await db.updateTable("findings").set({ status: "resolved", resolved_at: at, updated_at: at }).where("id", "=", found[3]!.id).execute();

  const mapping = await db
    .insertInto("tracker_mappings")
    .values({
      integration_id: jira.id,
      name: "Platform board",
      target: JSON.stringify({ project: "PLAT", issueType: "Bug" }),
      fields: JSON.stringify({ labels: ["security"] }),
      status_map: JSON.stringify({ Done: "resolved" }),
      created_at: at,
      updated_at: at,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  await db
    .insertInto("tracker_assignments")
    .values({
      mapping_id: mapping.id,
      repository_ids: JSON.stringify([repository.id]),
      min_severity: "high",
      group_by: "finding",
      push_mode: "auto",
      linked_through: 0,
      created_at: at,
      updated_at: at,
    })
    .execute();
  const ticket = await db
    .insertInto("tickets")
    .values({
      mapping_id: mapping.id,
      subject_key: `finding:${found[0]!.id}`,
      marker: "patchbay:1:abc",
      external_id: "10042",
      external_key: "PLAT-42",
      url: "https://example.atlassian.net/browse/PLAT-42",
      state: "open",
      content_hash: "h1",
      content: JSON.stringify({ summary: "CVE-2026-10000 in pkg-0" }),
      notes: "[]",
      created_at: at,
      updated_at: at,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  await db.insertInto("ticket_findings").values({ ticket_id: ticket.id, finding_id: found[0]!.id }).execute();
  await db.insertInto("ticket_changes").values({ ticket_id: ticket.id, at, action: "created", detail: "PLAT-42" }).execute();
  await db
    .insertInto("push_errors")
    .values({
      mapping_id: mapping.id,
      subject_key: `finding:${found[1]!.id}`,
      subject_label: "CVE-2026-10001",
      finding_id: found[1]!.id,
      at,
      reason: "Jira refused the field customfield_10010",
      http_status: 400,
      tracker_message: '{"errors":{"customfield_10010":"required"}}',
    })
    .execute();
  const batch = await db
    .insertInto("push_batches")
    .values({
      requested_by: "admin",
      description: "Critical findings",
      filter: JSON.stringify({ severity: ["critical"] }),
      total: 10,
      done: 9,
      failed: 1,
      created_at: at,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  await db.insertInto("push_batch_parts").values({ batch_id: batch.id, integration_id: jira.id, total: 10, done: 9, failed: 1 }).execute();
  await db
    .insertInto("reconcile_runs")
    .values({
      mapping_id: mapping.id,
      direction: "check",
      status: "done",
      requested_by: "admin",
      checked: 1,
      total: 1,
      report: "[]",
      started_at: at,
      finished_at: at,
    })
    .execute();

  const pr = await db
    .insertInto("remediations")
    .values({
      integration_id: jira.id,
      repository_id: repository.id,
      number: 7,
      title: "Bump pkg-0 to 1.0.1",
      url: "https://github.com/acme/payments-api/pull/7",
      source_branch: "patchbay/pkg-0",
      author: "patchbay[bot]",
      state: "open",
      created_at: at,
      updated_at: at,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  await db.insertInto("remediation_findings").values({ remediation_id: pr.id, finding_id: found[0]!.id, reason: "fixes pkg-0" }).execute();
  await db
    .insertInto("fix_proposals")
    .values({
      repository_id: repository.id,
      package_lc: "pkg-1",
      path: "package.json",
      finding_id: found[1]!.id,
      signature: "0123456789abcdef0123456789abcdef",
      state: "waiting",
      branch: "patchbay/fix-npm-pkg-1-0a1b2c3d",
      title: "Bump pkg-1 from 1.0.0 to 1.0.1",
      to_version: "1.0.1",
      findings: 1,
      reason: null,
      by: null,
      created_at: at,
      updated_at: at,
    })
    .execute();
  await db
    .insertInto("repository_dependencies")
    .values({
      repository_id: repository.id,
      path: "package-lock.json",
      ecosystem: "npm",
      name: "pkg-0",
      version: "1.0.0",
      updated_at: at,
      direct: 1,
      scope: "runtime",
    })
    .execute();
  await db
    .insertInto("packages")
    .values({ integration_id: jira.id, ecosystem: "npm", name: "@acme/ui", latest: "2.0.0", versions: JSON.stringify(["1.0.0", "2.0.0"]), updated_at: at })
    .execute();
  await db
    .insertInto("webhook_deliveries")
    .values({ integration_id: jira.id, delivery_id: "d-1", event: "jira:issue_updated", received_at: at, outcome: "applied", detail: null, body_hash: "00ff" })
    .execute();
  const run = await db
    .insertInto("sync_runs")
    .values({
      integration_id: scanner.id,
      job_id: 1,
      status: "done",
      pages: 1,
      total: findings,
      counts: JSON.stringify({ created: findings }),
      started_at: at,
      finished_at: at,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  await db
    .insertInto("sync_pages")
    .values({ run_id: run.id, page: 0, external_ids: JSON.stringify(["upload-0"]) })
    .execute();
  await db
    .insertInto("uploads")
    .values({
      integration_id: scanner.id,
      by: "ci",
      format: "sarif",
      tool: "trivy",
      asset: "acme/payments-api",
      bytes: 1234,
      status: "done",
      counts: "{}",
      created_at: at,
    })
    .execute();
  await db
    .insertInto("jobs")
    .values({
      type: "sync",
      payload: JSON.stringify({ integrationId: scanner.id }),
      status: "done",
      run_at: at,
      attempts: 1,
      max_attempts: 5,
      created_at: at,
      updated_at: at,
      finished_at: at,
      lane: `integration:${scanner.id}`,
      // An older version kept a scanner's NUL in a dedupe key; PostgreSQL's text cannot hold one.
      dedupe_key: "sync:\u0000old",
    })
    .execute();
  await db
    .insertInto("domain_events")
    .values({ type: "finding.created", payload: JSON.stringify({ id: found[0]!.id }), created_at: at })
    .execute();
  const admin = (await db.selectFrom("users").select("id").executeTakeFirstOrThrow()) as { id: number };
  await db
    .insertInto("oauth_states")
    .values({ state: "st-1", kind: "gitlab", integration_id: null, user_id: admin.id, sealed: vault.encrypt("{}"), created_at: at, expires_at: at })
    .execute();
  await db.insertInto("oidc_states").values({ id: "oidc-1", nonce: "n", verifier: "v", next: "/", expires_at: at }).execute();
  await db.insertInto("recovery_codes").values({ user_id: admin.id, code_hash: "$argon2id$v=19$placeholder-hash" }).execute();
  await db.insertInto("sign_in_challenges").values({ id: "ch-1", user_id: admin.id, next: "/", attempts: 1, expires_at: at }).execute();
  await db
    .insertInto("api_tokens")
    .values({
      name: "CI",
      token_hash: "sha256-of-token",
      prefix: "pbt_abcd",
      scopes: "upload",
      created_by: "admin",
      created_at: at,
      user_id: admin.id,
      expires_at: at,
    })
    .execute();
  await db.insertInto("auth_attempts").values({ key: "ip:203.0.113.9", count: 3, window_start: at }).execute();
  await db
    .insertInto("dependency_cache")
    .values({ key: "osv:npm:pkg-0", value: JSON.stringify({ vulns: [] }), updated_at: at })
    .execute();
  await db
    .insertInto("finding_snapshots")
    .values({ day: at.slice(0, 10), severity: "critical", open: 10 })
    .execute();
  await db.insertInto("pace_credentials").values({ key: "integration:1", updated_ms: now.getTime() }).execute();
  await db.insertInto("pace_writes").values({ key: "integration:1", at_ms: now.getTime() }).execute();
  await db.insertInto("schedule_ticks").values({ schedule: "nightly-sync", tick: "2026-12-05T03:00", claimed_at: at }).execute();
  await db
    .insertInto("kev_entries")
    .values({
      cve: "CVE-2024-0001",
      date_added: "2026-11-20",
      due_date: "2026-12-11",
      ransomware: "Known",
      name: "Widget flaw",
      notes: "",
      first_seen_at: at,
      changed_at: at,
    })
    .execute();
  await db.insertInto("epss_scores").values({ cve: "CVE-2024-0001", score: 0.97, percentile: 0.999, changed_at: at }).execute();
  await db
    .insertInto("exploitation_feeds")
    .values({ feed: "epss", data_date: "2026-12-05", model_version: "v2025.03.14", rows: 1, loaded_at: at, error: null, error_at: null })
    .execute();
}

/** Tables of the app's database holding no row (migrations' own aside). */
export async function emptyTables(app: TestApp): Promise<string[]> {
  const db = app.runtime.database.db as unknown as Kysely<any>;
  const empty: string[] = [];
  for (const table of await tableNames(app)) {
    const row = await sql`select 1 from ${sql.table(table)} limit 1`.execute(db);
    if (!row.rows.length) empty.push(table);
  }
  return empty;
}
