// A large Patchbay database written straight through better-sqlite3, for page timings at sizes
// an import would take too long to reach in a benchmark: repositories and images, findings
// spread over them with a realistic mix of severities, statuses, packages and CVEs, and the
// scanner rows (two scanners, some findings reported by both) the scanner filter reads; and a
// Jira board whose assignments take in the critical findings, each with its ticket and changelog.
import crypto from "node:crypto";
import SQLite from "better-sqlite3";

export interface SeedShape {
  findings: number;
  repositories: number;
  images: number;
}

/** The default SLA (days per severity, none for info). */
const SLA_DAYS: Record<string, number | null> = { critical: 3, high: 14, medium: 30, low: 90, info: null };
const SEVERITIES = [
  ["critical", 5],
  ["high", 4],
  ["high", 4],
  ["medium", 3],
  ["medium", 3],
  ["medium", 3],
  ["low", 2],
  ["low", 2],
  ["info", 1],
  ["medium", 3],
] as const;
/** 17 in 20 open, the rest spread over the other statuses. */
const STATUSES = [
  "open",
  "open",
  "open",
  "open",
  "open",
  "open",
  "open",
  "open",
  "open",
  "open",
  "open",
  "open",
  "open",
  "open",
  "open",
  "open",
  "open",
  "resolved",
  "risk_accepted",
  "in_remediation",
] as const;
const REAL_PACKAGES = ["lodash", "axios", "minimist", "qs", "openssl", "log4j-core", "jackson-databind", "urllib3", "requests", "golang.org/x/net"];

export function seedLargeDatabase(file: string, shape: SeedShape): { seconds: number } {
  const db = new SQLite(file);
  // A bulk load: no journal and a large cache while writing, WAL again (as Patchbay runs) after.
  db.pragma("journal_mode = OFF");
  db.pragma("synchronous = OFF");
  db.pragma("cache_size = -262144");
  const started = performance.now();
  const stamp = new Date().toISOString();
  const integration = db.prepare(
    "insert into integrations (kind, name, settings, status, created_at, updated_at) values ('ci-upload', ?, '{}', 'connected', ?, ?)",
  );
  const scanners = [Number(integration.run("Trivy in CI", stamp, stamp).lastInsertRowid), Number(integration.run("Grype in CI", stamp, stamp).lastInsertRowid)];
  const repo = db.prepare(
    "insert into repositories (integration_id, provider, full_name, url, url_key, created_at, updated_at) values (null, 'github', ?, ?, ?, ?, ?)",
  );
  const asset = db.prepare("insert into assets (kind, asset_key, name, repository_id, details, created_at, updated_at) values (?, ?, ?, ?, '{}', ?, ?)");
  const finding = db.prepare(
    `insert into findings (fingerprint, cve, title, description, severity, severity_rank, cvss, ecosystem, package, package_lc, installed_version, fixed_version,
       asset_id, status, status_reason, first_detected_at, last_seen_at, resolved_at, created_at, updated_at, risk, due_at)
     values (?, ?, ?, ?, ?, ?, ?, 'npm', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  // Exploitation data for the findings' CVEs: an EPSS score each, and one CVE in 400 in KEV.
  const epss = db.prepare("insert into epss_scores (cve, score, percentile, changed_at) values (?, ?, ?, ?) on conflict (cve) do nothing");
  const kev = db.prepare(
    "insert into kev_entries (cve, date_added, due_date, ransomware, name, notes, first_seen_at, changed_at) values (?, '2025-01-10', '2025-01-31', 'Unknown', ?, '', ?, ?) on conflict (cve) do nothing",
  );
  const source = db.prepare(
    "insert into finding_sources (finding_id, integration_id, external_id, status, raw, content_hash, url, first_seen_at, updated_at) values (?, ?, ?, ?, '{}', ?, null, ?, ?)",
  );
  const jira = Number(
    db
      .prepare("insert into integrations (kind, name, settings, status, created_at, updated_at) values ('jira', 'Jira', '{}', 'connected', ?, ?)")
      .run(stamp, stamp).lastInsertRowid,
  );
  const mapping = Number(
    db
      .prepare(
        "insert into tracker_mappings (integration_id, name, target, fields, status_map, created_at, updated_at) values (?, 'Security board', '{}', '{}', '{}', ?, ?)",
      )
      .run(jira, stamp, stamp).lastInsertRowid,
  );
  const assignment = db.prepare(
    "insert into tracker_assignments (mapping_id, repository_ids, min_severity, group_by, push_mode, linked_through, created_at, updated_at) values (?, ?, ?, 'finding', 'explicit', 0, ?, ?)",
  );
  const ticket = db.prepare(
    "insert into tickets (mapping_id, subject_key, marker, external_id, external_key, url, state, linked_at, created_at, updated_at) values (?, ?, ?, ?, ?, ?, 'To Do', ?, ?, ?)",
  );
  const ticketFinding = db.prepare("insert into ticket_findings (ticket_id, finding_id) values (?, ?)");
  const change = db.prepare("insert into ticket_changes (ticket_id, at, action, detail) values (?, ?, ?, ?)");
  db.transaction(() => {
    // Every repository at critical; the first hundred at high too; images at medium and up.
    assignment.run(mapping, null, "critical", stamp, stamp);
    assignment.run(mapping, JSON.stringify(Array.from({ length: Math.min(100, shape.repositories) }, (_, r) => r + 1)), "high", stamp, stamp);
    assignment.run(mapping, "[]", "medium", stamp, stamp);
    const assets: number[] = [];
    for (let r = 0; r < shape.repositories; r++) {
      const name = `acme/service-${String(r).padStart(4, "0")}`;
      const repoId = Number(repo.run(name, `https://github.com/${name}`, `github.com/${name}`, stamp, stamp).lastInsertRowid);
      assets.push(Number(asset.run("repository", `repository:${name}`, name, repoId, stamp, stamp).lastInsertRowid));
    }
    for (let i = 0; i < shape.images; i++) {
      const digest = `sha256:${crypto.createHash("sha256").update(`image-${i}`).digest("hex")}`;
      assets.push(Number(asset.run("container_image", digest, `registry.example.com/acme/app-${i}:1.${i % 10}`, null, stamp, stamp).lastInsertRowid));
    }
    const year = 365 * 24 * 3600 * 1000;
    const now = Date.now();
    for (let i = 0; i < shape.findings; i++) {
      const [severity, rank] = SEVERITIES[i % SEVERITIES.length]!;
      const status = STATUSES[(i * 7) % STATUSES.length]!;
      const pkg = i % 10 === 0 ? REAL_PACKAGES[(i / 10) % REAL_PACKAGES.length]! : `pkg-${(i * 31) % 3000}`;
      const cve = `CVE-${2015 + (i % 11)}-${10000 + ((i * 7919) % 40000)}`;
      const version = `1.${i % 13}.${i % 7}`;
      const detected = new Date(now - ((i * 104729) % year)).toISOString();
      const resolved = status === "resolved" ? stamp : null;
      const id = Number(
        finding.run(
          crypto.createHash("sha256").update(`finding-${i}`).digest("hex"),
          cve,
          `${cve} in ${pkg}`,
          `A flaw in ${pkg} ${version} lets crafted input exhaust memory or run code; upgrade to a fixed release.`,
          severity,
          rank,
          rank * 2 - 0.5,
          pkg,
          pkg.toLowerCase(),
          version,
          i % 4 === 0 ? null : `1.${i % 13}.${(i % 7) + 1}`,
          assets[i % assets.length]!,
          status,
          status === "risk_accepted" ? "Accepted until the service is retired." : null,
          detected,
          stamp,
          resolved,
          detected,
          stamp,
          // Scores spread over 0–100, as the rescore job leaves them.
          (i * 37) % 101,
          // The default SLA's deadline from first detection: most open ones are overdue, as in a backlog nobody triaged.
          SLA_DAYS[severity] == null ? null : new Date(Date.parse(detected) + SLA_DAYS[severity]! * 86_400_000).toISOString(),
        ).lastInsertRowid,
      );
      const n = (i * 7919) % 40000;
      epss.run(cve, (n % 1000) / 1000, n / 40000, stamp);
      if (n % 400 === 0) kev.run(cve, `Known exploited ${cve}`, stamp, stamp);
      const sourceStatus = status === "resolved" ? "resolved" : "open";
      source.run(id, scanners[i % 3 === 0 ? 1 : 0], `f-${i}`, sourceStatus, String(i), detected, stamp);
      if (i % 10 === 0) source.run(id, scanners[i % 3 === 0 ? 0 : 1], `g-${i}`, sourceStatus, String(i), detected, stamp);
      if (severity === "critical") {
        const key = `SEC-${i + 1}`;
        const t = Number(
          ticket.run(
            mapping,
            `finding:${id}`,
            `patchbay-${id.toString(16).padStart(16, "0")}`,
            String(10000 + i),
            key,
            `https://acme.atlassian.net/browse/${key}`,
            stamp,
            stamp,
            stamp,
          ).lastInsertRowid,
        );
        ticketFinding.run(t, id);
        change.run(t, stamp, "created", `Created ${key}`);
        change.run(t, stamp, "updated", "Status → In Progress (remediation pull request open)");
      }
    }
  })();
  db.pragma("journal_mode = WAL");
  // Full statistics, as Patchbay leaves them after an import.
  db.exec("ANALYZE");
  db.close();
  return { seconds: (performance.now() - started) / 1000 };
}
