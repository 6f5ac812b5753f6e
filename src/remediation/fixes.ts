// Which findings a pull/merge request fixes. Three rules, each on findings of the PR's
// repository that are open or in remediation:
//   cve    the title, body or source branch names the finding's CVE (any case);
//   bump   a dependency-bump title (Dependabot "Bump X from A to B", Renovate "Update
//          dependency X to vB", and plain "bump X to B") raises the finding's package to at
//          least its fixed version;
//   ticket the title, body or source branch names the key of a ticket Patchbay created for
//          the finding (a Jira key like SEC-12, or owner/repo#12).
import type { PullRequestEvent } from "../connectors/types.js";
import type { Db } from "../db/schema.js";
import { trimEnd } from "../text.js";
import { packageKey, packageKeys } from "../vuln/packages.js";
import { fixes as versionFixes } from "../vuln/versions/index.js";
import { cvesIn } from "../vuln/advisories.js";

export interface Fix {
  findingId: number;
  reason: "cve" | "bump" | "ticket";
}

/** A finding a bump names but that Patchbay cannot tell it fixes: its version rules cannot read a version. */
export interface Unreadable {
  findingId: number;
  note: string;
}

export function mentionedCves(text: string): string[] {
  return cvesIn(text);
}

// The lookbehind starts a path only where a run of path characters starts (linear time).
const TICKET_KEY = /\b[A-Z][A-Z0-9_]+-\d+\b|(?<![\w./-])[\w.-]+(?:\/[\w.-]+)+#\d+/g;

/** Strings in the text that may be tracker keys: "SEC-12", "acme/api#12", "group/sub/project#3". */
export function mentionedTicketKeys(text: string): string[] {
  return [...new Set([...text.matchAll(TICKET_KEY)].map((m) => m[0]))].filter((k) => !/^CVE-/i.test(k));
}

export interface Bump {
  package: string;
  to: string;
}

const BUMP_PATTERNS = [
  // Dependabot: "Bump lodash from 4.17.15 to 4.17.21", "build(deps): bump x from a to b in /app"
  /\bbump (\S+) from \S+ to v?(\S+?)(?:\s|$)/i,
  // Renovate: "Update dependency lodash to v4.17.21", "fix(deps): update module golang.org/x/net to v0.17.0"
  /\bupdate (?:dependency |module |package )?(\S+) to v?(\S+?)(?:\s|$)/i,
  // Plain: "bump lodash to 4.17.21"
  /\bbump (\S+) to v?(\S+?)(?:\s|$)/i,
];

export function parseBump(title: string): Bump | undefined {
  for (const pattern of BUMP_PATTERNS) {
    const match = pattern.exec(title);
    if (match && /\d/.test(match[2]!)) return { package: match[1]!.replace(/[`'"]/g, ""), to: trimEnd(match[2]!, "`'\",;)") };
  }
  return undefined;
}

export async function findFixes(
  db: Db,
  repositoryId: number,
  pr: Pick<PullRequestEvent, "title" | "body" | "sourceBranch">,
): Promise<{ fixes: Fix[]; unreadable: Unreadable[] }> {
  const fixes = new Map<number, Fix>();
  const unreadable: Unreadable[] = [];
  const candidates = db
    .selectFrom("findings")
    .innerJoin("assets", "assets.id", "findings.asset_id")
    .select(["findings.id", "findings.ecosystem", "findings.package_lc", "findings.fixed_version"])
    .where("assets.repository_id", "=", repositoryId)
    .where("findings.status", "in", ["open", "in_remediation"]);

  const cves = mentionedCves(`${pr.title}\n${pr.body}\n${pr.sourceBranch ?? ""}`);
  if (cves.length) {
    for (const row of await candidates.where("findings.cve", "in", cves).execute()) fixes.set(row.id, { findingId: row.id, reason: "cve" });
  }
  const keys = mentionedTicketKeys(`${pr.title}\n${pr.body}\n${pr.sourceBranch ?? ""}`);
  if (keys.length) {
    const rows = await candidates
      .innerJoin("ticket_findings", "ticket_findings.finding_id", "findings.id")
      .innerJoin("tickets", "tickets.id", "ticket_findings.ticket_id")
      .where("tickets.external_key", "in", keys.slice(0, 200))
      .execute();
    for (const row of rows) if (!fixes.has(row.id)) fixes.set(row.id, { findingId: row.id, reason: "ticket" });
  }
  const bump = parseBump(pr.title);
  if (bump) {
    for (const row of await candidates.where("findings.package_lc", "in", packageKeys(bump.package)).execute()) {
      if (fixes.has(row.id) || !row.fixed_version || packageKey(row.ecosystem, bump.package) !== row.package_lc) continue;
      const verdict = versionFixes(row.ecosystem, bump.to, row.fixed_version);
      if (verdict.fixed) fixes.set(row.id, { findingId: row.id, reason: "bump" });
      else if (verdict.reason.includes("cannot order")) {
        unreadable.push({ findingId: row.id, note: `Not linked to the bump of ${bump.package} to ${bump.to}: ${verdict.reason}` });
      }
    }
  }
  return { fixes: [...fixes.values()], unreadable };
}
