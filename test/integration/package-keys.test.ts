// Upgrading to package keys compared per ecosystem (migration 0027): a database holding both
// spellings of one PyPI package ends with one finding — its sources, history, pull request
// links and tickets merged — and the next report of either spelling lands on it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect } from "kysely";
import { afterEach, expect, it } from "vitest";
import { migrations } from "../../migrations/index.js";
import { fingerprint } from "../../src/findings/normalize.js";
import { packageKey } from "../../src/vuln/packages.js";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const T = "2026-11-01T00:00:00.000Z";
const IMAGE = "image:sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d";
const oldFingerprint = (cve: string, pkg: string, version: string) => fingerprint(cve, pkg.toLowerCase(), version, IMAGE);

function open(): Kysely<any> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "patchbay-keys-"));
  dirs.push(dir);
  return new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(path.join(dir, "patchbay.db")) }) });
}

function finding(id: number, pkg: string, status: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    fingerprint: oldFingerprint("CVE-2024-0001", pkg, "5.4.0"),
    cve: "CVE-2024-0001",
    title: "zope.interface: example",
    description: null,
    severity: "high",
    severity_rank: 4,
    cvss: 7.5,
    ecosystem: "PyPI",
    package: pkg,
    package_lc: pkg.toLowerCase(),
    installed_version: "5.4.0",
    fixed_version: "6.0",
    asset_id: 1,
    status,
    status_reason: null,
    status_expires_at: null,
    first_detected_at: T,
    last_seen_at: T,
    resolved_at: null,
    created_at: T,
    updated_at: T,
    ...extra,
  };
}

it("merges findings, sources, history, pull request links and tickets that one package's two spellings had split", async () => {
  const db = open();
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  expect((await migrator.migrateTo("0026_bulk_push_lanes")).error).toBeUndefined();

  const integration = (id: number, kind: string) => ({
    id,
    kind,
    name: kind,
    settings: "{}",
    secrets: null,
    status: "connected",
    last_error: null,
    last_sync_at: null,
    created_at: T,
    updated_at: T,
  });
  await db
    .insertInto("integrations")
    .values([integration(1, "ci-upload"), integration(2, "grype"), integration(3, "jira")])
    .execute();
  await db
    .insertInto("assets")
    .values({ id: 1, kind: "container_image", asset_key: IMAGE, name: "acme/api", repository_id: null, details: "{}", created_at: T, updated_at: T })
    .execute();
  await db
    .insertInto("findings")
    .values([
      finding(1, "zope.interface", "risk_accepted", { status_reason: "Not reachable from our code", first_detected_at: "2026-10-01T00:00:00.000Z" }),
      finding(2, "zope-interface", "open", { last_seen_at: "2026-11-20T00:00:00.000Z" }),
      finding(3, "requests", "open", { cve: "CVE-2024-0002", fingerprint: oldFingerprint("CVE-2024-0002", "requests", "5.4.0") }),
      finding(4, "Zope_Interface", "resolved", {
        cve: "CVE-2024-0003",
        fingerprint: oldFingerprint("CVE-2024-0003", "Zope_Interface", "5.4.0"),
        resolved_at: T,
      }),
    ])
    .execute();
  const source = (id: number, findingId: number, integrationId: number) => ({
    id,
    finding_id: findingId,
    integration_id: integrationId,
    external_id: `s${id}`,
    status: "open",
    raw: "{}",
    content_hash: "h",
    url: null,
    first_seen_at: T,
    updated_at: T,
  });
  // Upload records are named by package: Trivy's two uploads spelled it both ways.
  const uploaded = (id: number, findingId: number, pkg: string, status: string) => ({
    ...source(id, findingId, 1),
    external_id: `Trivy:${IMAGE}:CVE-2024-0001:${pkg}@5.4.0`,
    raw: JSON.stringify({ tool: "Trivy", format: "trivy", ids: ["CVE-2024-0001"], package: pkg, ecosystem: "PyPI", installedVersion: "5.4.0" }),
    status,
  });
  await db
    .insertInto("finding_sources")
    .values([uploaded(1, 1, "zope.interface", "open"), source(2, 2, 2), source(3, 3, 1), source(4, 4, 1), uploaded(5, 2, "zope-interface", "resolved")])
    .execute();
  await db
    .insertInto("finding_events")
    .values([
      { finding_id: 1, at: T, actor: "alice", from_status: "open", to_status: "risk_accepted", note: "Not reachable from our code" },
      { finding_id: 2, at: T, actor: "scanner: grype", from_status: null, to_status: "open", note: null },
    ])
    .execute();
  await db
    .insertInto("repositories")
    .values({
      id: 1,
      integration_id: 1,
      provider: "github",
      full_name: "acme/api",
      url: "https://github.com/acme/api",
      external_id: "1",
      url_key: "github.com/acme/api",
      created_at: T,
      updated_at: T,
    })
    .execute();
  await db
    .insertInto("remediations")
    .values({
      id: 1,
      integration_id: 1,
      repository_id: 1,
      number: 9,
      title: "Bump zope-interface",
      url: "https://github.com/acme/api/pull/9",
      source_branch: null,
      author: null,
      outside: null,
      state: "open",
      created_at: T,
      updated_at: T,
      merged_at: null,
      closed_at: null,
    })
    .execute();
  await db.insertInto("remediation_findings").values({ remediation_id: 1, finding_id: 2, reason: "bump" }).execute();
  await db
    .insertInto("tracker_mappings")
    .values({ id: 1, integration_id: 3, name: "SEC", target: "{}", fields: "{}", status_map: "{}", created_at: T, updated_at: T })
    .execute();
  const ticket = (id: number, subject: string) => ({
    id,
    mapping_id: 1,
    subject_key: subject,
    marker: `patchbay-${id}`,
    external_id: String(100 + id),
    external_key: `SEC-${id}`,
    url: `https://jira.example.com/browse/SEC-${id}`,
    state: "open",
    content_hash: null,
    content: null,
    lock_until: null,
    lock_by: null,
    linked_at: T,
    synced_at: T,
    created_at: T,
    updated_at: T,
  });
  await db
    .insertInto("tickets")
    .values([
      ticket(1, "package:PyPI:zope.interface"),
      ticket(2, "package:PyPI:zope-interface"),
      ticket(3, "finding:2"),
      ticket(4, "package:PyPI:zope_interface"),
    ])
    .execute();
  await db
    .insertInto("ticket_findings")
    .values([
      { ticket_id: 1, finding_id: 1 },
      { ticket_id: 2, finding_id: 2 },
      { ticket_id: 3, finding_id: 2 },
      { ticket_id: 4, finding_id: 4 },
    ])
    .execute();

  expect((await migrator.migrateToLatest()).error).toBeUndefined();

  const findings = await db
    .selectFrom("findings")
    .select(["id", "package", "package_lc", "status", "status_reason", "first_detected_at", "last_seen_at", "fingerprint"])
    .orderBy("id")
    .execute();
  expect(findings.map(({ fingerprint: _, ...f }) => f)).toEqual([
    // The person's triage survives; the merged finding spans both findings' detections.
    {
      id: 1,
      package: "zope.interface",
      package_lc: "zope-interface",
      status: "risk_accepted",
      status_reason: "Not reachable from our code",
      first_detected_at: "2026-10-01T00:00:00.000Z",
      last_seen_at: "2026-11-20T00:00:00.000Z",
    },
    { id: 3, package: "requests", package_lc: "requests", status: "open", status_reason: null, first_detected_at: T, last_seen_at: T },
    { id: 4, package: "Zope_Interface", package_lc: "zope-interface", status: "resolved", status_reason: null, first_detected_at: T, last_seen_at: T },
  ]);
  // The next report of any spelling, by any scanner, lands on the merged finding.
  for (const spelling of ["zope.interface", "zope-interface", "Zope_Interface", "ZOPE..interface"]) {
    for (const ecosystem of ["PyPI", "pip", "poetry"])
      expect(fingerprint("CVE-2024-0001", packageKey(ecosystem, spelling), "5.4.0", IMAGE)).toBe(findings[0]!.fingerprint);
  }
  const sources = await db.selectFrom("finding_sources").select(["id", "finding_id", "external_id", "status"]).orderBy("id").execute();
  expect(sources.map((s) => [s.id, s.finding_id])).toEqual([
    [1, 1],
    [2, 1],
    [3, 3],
    [4, 4],
  ]);
  // The upload record takes the new key (the next full upload finds it) and stays open.
  expect(sources[0]).toMatchObject({ external_id: `Trivy:${IMAGE}:CVE-2024-0001:zope-interface@5.4.0`, status: "open" });
  const history = await db.selectFrom("finding_events").select(["actor", "note"]).where("finding_id", "=", 1).orderBy("id").execute();
  expect(history.map((h) => h.actor)).toEqual(["alice", "scanner: grype", "upgrade"]);
  expect(history[2]!.note).toBe('Merged with finding #2: "zope.interface" and "zope-interface" are one package on PyPI, so the two were one vulnerability.');
  expect(await db.selectFrom("remediation_findings").select(["remediation_id", "finding_id"]).execute()).toEqual([{ remediation_id: 1, finding_id: 1 }]);

  const tickets = await db.selectFrom("tickets").select(["id", "subject_key"]).orderBy("id").execute();
  expect(tickets).toEqual([
    { id: 1, subject_key: "package:PyPI:zope-interface" },
    { id: 2, subject_key: "retired:2" },
    { id: 3, subject_key: "finding:1" },
    { id: 4, subject_key: "retired:4" },
  ]);
  expect(await db.selectFrom("ticket_findings").select(["ticket_id", "finding_id"]).orderBy("ticket_id").orderBy("finding_id").execute()).toEqual([
    { ticket_id: 1, finding_id: 1 },
    { ticket_id: 1, finding_id: 4 },
    { ticket_id: 3, finding_id: 1 },
  ]);
  const merged = await db.selectFrom("ticket_changes").select(["ticket_id", "action", "detail"]).orderBy("ticket_id").execute();
  expect(merged.map((m) => [m.ticket_id, m.action])).toEqual([
    [2, "merged"],
    [4, "merged"],
  ]);
  expect(merged[0]!.detail).toContain("Merged into SEC-1");
  // Finding counts follow (kept by triggers): one open, one risk accepted, one resolved.
  const counts = await db
    .selectFrom("finding_counts")
    .select(["status"])
    .select((eb) => eb.fn.sum<number>("n").as("n"))
    .groupBy("status")
    .orderBy("status")
    .execute();
  expect(counts.filter((c) => Number(c.n) > 0).map((c) => [c.status, Number(c.n)])).toEqual([
    ["open", 1],
    ["resolved", 1],
    ["risk_accepted", 1],
  ]);
  await db.destroy();
});
