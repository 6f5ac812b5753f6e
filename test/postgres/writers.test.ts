// Writers in two processes racing for the same rows on PostgreSQL: two imports of the same
// scanner records at once (each in its own transaction, as a sync runs them) neither fail on a
// unique key nor duplicate a finding, an asset or a scanner record.
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import type { ScannerRecord } from "../../src/connectors/types.js";
import { importPage } from "../../src/findings/import.js";
import { loadRepositoryIndex } from "../../src/findings/repositories.js";
import { saveRemediation } from "../../src/remediation/store.js";
import { insertRows } from "../../src/db/dialect.js";
import { insertIntegration, renameIntegration } from "../../src/integrations/store.js";
import { createFirstAdmin, createUser } from "../../src/auth/users.js";
import { processesOnOneDatabase } from "./database.js";

const processes = processesOnOneDatabase(2);

function records(n: number, integration: string, year = 2025): ScannerRecord[] {
  const now = new Date().toISOString();
  return Array.from({ length: n }, (_, i) => ({
    externalId: `${integration}-${i}`,
    raw: { i },
    finding: {
      cve: `CVE-${year}-${1000 + i}`,
      title: `flaw ${i}`,
      description: null,
      severity: (["critical", "high", "medium", "low"] as const)[i % 4]!,
      cvss: null,
      ecosystem: "npm",
      package: `pkg-${i % 50}`,
      installedVersion: "1.0.0",
      fixedVersion: "1.0.1",
      firstDetectedAt: now,
      lastSeenAt: now,
      asset: { kind: "container_image" as const, key: `sha256:${String(i % 3).repeat(64)}`, name: `registry.example/app:${i % 3}`, details: {} },
      url: null,
    },
  }));
}

describe("two processes importing the same findings at once", () => {
  it("makes each finding and asset once, and neither import fails", async () => {
    const stamp = new Date().toISOString();
    const integrations: { id: number }[] = [];
    for (const name of ["scanner-a", "scanner-b"])
      integrations.push(
        await processes[0]!.db
          .insertInto("integrations")
          .values({ kind: "ci-upload", name, settings: "{}", secrets: null, status: "connected", created_at: stamp, updated_at: stamp })
          .returning("id")
          .executeTakeFirstOrThrow(),
      );
    // The images exist already (an earlier scan), so nothing but the findings themselves is contended.
    await processes[0]!.db.transaction().execute(async (trx) =>
      importPage(trx, records(3, "seed", 2020), {
        integrationId: integrations[0]!.id,
        actor: "scanner: a",
        repositories: await loadRepositoryIndex(trx),
        now: new Date(),
      }),
    );
    // Process A imports inside its transaction and has not committed yet when process B imports the
    // same records: B cannot see A's rows, and its inserts wait on A's unique keys until A commits.
    let commitA!: () => void;
    let aReady!: () => void;
    const ready = new Promise<void>((resolve) => (aReady = resolve));
    const first = processes[0]!.db.transaction().execute(async (trx) => {
      const counts = await importPage(trx, records(300, "rec-0"), {
        integrationId: integrations[0]!.id,
        actor: "scanner: a",
        repositories: await loadRepositoryIndex(trx),
        now: new Date(),
      });
      aReady();
      await new Promise<void>((resolve) => (commitA = resolve));
      return counts;
    });
    await ready;
    const second = processes[1]!.db.transaction().execute(async (trx) =>
      importPage(trx, records(300, "rec-1"), {
        integrationId: integrations[1]!.id,
        actor: "scanner: b",
        repositories: await loadRepositoryIndex(trx),
        now: new Date(),
      }),
    );
    setTimeout(() => commitA(), 300);
    const results = await Promise.all([first, second]);
    const db = processes[0]!.db;
    const count = async (table: string) => Number((await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db)).rows[0]!.n);
    expect(await count("findings")).toBe(303);
    expect(await count("assets")).toBe(3);
    expect(await count("finding_sources")).toBe(603);
    // Every finding counted once as new, by one import or the other; the other updated it.
    expect(results[0]!.new + results[1]!.new).toBe(300);
    const events = await sql<{ n: number }>`select count(*) as n from finding_events where from_status is null`.execute(db);
    expect(Number(events.rows[0]!.n)).toBe(303);
  });

  it("records one pull request once when two processes receive its events at once", async () => {
    const db = processes[0]!.db;
    const stamp = new Date().toISOString();
    const integration = await db
      .insertInto("integrations")
      .values({ kind: "github", name: "GitHub", settings: "{}", secrets: null, status: "connected", created_at: stamp, updated_at: stamp })
      .returning("id")
      .executeTakeFirstOrThrow();
    const repository = await db
      .insertInto("repositories")
      .values({ integration_id: integration.id, provider: "github", full_name: "acme/api", created_at: stamp, updated_at: stamp })
      .returning("id")
      .executeTakeFirstOrThrow();
    const at = { integrationId: integration.id, repositoryId: repository.id };
    const pr = (title: string) => ({ number: 7, title, url: "https://github.com/acme/api/pull/7", sourceBranch: "fix", author: "dev", outside: null });
    // A's delivery records the pull request in its transaction; B's arrives before A commits.
    let commitA!: () => void;
    let aReady!: () => void;
    const ready = new Promise<void>((resolve) => (aReady = resolve));
    const first = processes[0]!.db.transaction().execute(async (trx) => {
      const saved = await saveRemediation(trx, at, pr("opened"), "open", stamp);
      aReady();
      await new Promise<void>((resolve) => (commitA = resolve));
      return saved;
    });
    await ready;
    const second = processes[1]!.db.transaction().execute((trx) => saveRemediation(trx, at, pr("edited"), "open", stamp));
    setTimeout(() => commitA(), 300);
    const [a, b] = await Promise.all([first, second]);
    expect(a).toEqual({ id: a.id, existed: false });
    expect(b).toEqual({ id: a.id, existed: true });
    expect(await db.selectFrom("remediations").select(["title"]).execute()).toEqual([{ title: "edited" }]);
  });

  it("stores a lone surrogate in imported text as U+FFFD, as a single row's parameter would, instead of refusing the page", async () => {
    const db = processes[0]!.db;
    const at = new Date().toISOString();
    await insertRows(db, "audit_log", [
      { at, action: "test.surrogate", target: "broken \ud800 escape" },
      { at, action: "test.surrogate", target: "paired \ud83d\ude00 and lone low \udc00" },
    ]).execute();
    const rows = await db.selectFrom("audit_log").select("target").where("action", "=", "test.surrogate").orderBy("id").execute();
    expect(rows.map((r) => r.target)).toEqual(["broken \ufffd escape", "paired \ud83d\ude00 and lone low \ufffd"]);
  });

  it("names connections made or renamed at once in two processes apart, and creates a first-signed-in user once", async () => {
    const now = new Date();
    const made = await Promise.all(
      [0, 1, 0, 1].map((i) => insertIntegration(processes[i]!.db, { kind: "jira", name: "Jira racing", settings: {}, sealedSecrets: null }, now)),
    );
    expect(made.map((m) => m.name).sort()).toEqual(["Jira racing", "Jira racing (2)", "Jira racing (3)", "Jira racing (4)"]);
    // Two of them renamed to one new name at once: the second checks while the first's rename is
    // not committed yet (it sees the name free), then waits on the first at the unique index.
    let renamedFirst!: (answer: string | undefined) => void;
    const firstAnswer = new Promise<string | undefined>((resolve) => (renamedFirst = resolve));
    let commit!: () => void;
    const committed = processes[1]!.db.transaction().execute(async (trx) => {
      renamedFirst(await renameIntegration(trx, made[1]!.id, "Security Jira"));
      await new Promise<void>((resolve) => (commit = resolve));
    });
    expect(await firstAnswer).toBeUndefined();
    const second = renameIntegration(processes[0]!.db, made[0]!.id, "Security Jira");
    await new Promise((r) => setTimeout(r, 300));
    commit();
    await committed;
    expect(await second).toBe('Another connection is already named "Security Jira": choose another name.');
    const names = await processes[0]!.db.selectFrom("integrations").select(["id", "name"]).where("name", "=", "Security Jira").execute();
    expect(names).toEqual([{ id: made[1]!.id, name: "Security Jira" }]);
    expect(await processes[0]!.db.selectFrom("users").select("id").execute()).toEqual([]);
    // Two first-run setups at once: both see no users; one makes the first administrator.
    const setups = await Promise.all([0, 1].map((i) => createFirstAdmin(processes[i]!.db, { username: `first-${i}`, passwordHash: "x" }, now)));
    expect(setups.filter((u) => u !== undefined).map((u) => u!.role)).toEqual(["admin"]);
    const users = await Promise.all(
      [0, 1].map((i) => createUser(processes[i]!.db, { username: "racer", passwordHash: "x", role: "member", externalId: "https://idp.example#racer" }, now)),
    );
    expect(users.filter((u) => u !== undefined)).toHaveLength(1);
  });
});
