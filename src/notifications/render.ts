// What a notification says about an outbox event: title, text, facts and a link back to the
// Patchbay page concerned, built from the database as it is when the message goes out.
import type { Notification, SettingValues } from "../connectors/types.js";
import type { Db, Severity } from "../db/schema.js";
import { SEVERITIES, SEVERITY_RANK } from "../findings/normalize.js";
import { minSeverity, type OutboxEvent } from "./rules.js";
import { withoutTrailingSlash } from "../text.js";

export async function describe(db: Db, baseUrl: string, event: OutboxEvent, settings: SettingValues, at: Date): Promise<Notification | undefined> {
  const base = withoutTrailingSlash(baseUrl);
  const p = event.payload;
  const integrationName = async (id: unknown) =>
    typeof id === "number"
      ? ((await db.selectFrom("integrations").select("name").where("id", "=", id).executeTakeFirst())?.name ?? `integration ${id}`)
      : "an integration";
  const common = { event: event.type, more: 0, at: at.toISOString() };
  switch (event.type) {
    case "integration.failed": {
      const name = await integrationName(p.integrationId);
      return {
        ...common,
        level: "error",
        title: `${name} needs attention`,
        text: String(p.reason),
        facts: [{ label: "Integration", value: name }],
        link: { label: "Open the Integration Hub", url: `${base}/integrations` },
      };
    }
    case "integration.warning": {
      const name = await integrationName(p.integrationId);
      const notes = (p.notes as { level: string; message: string }[]) ?? [];
      return {
        ...common,
        level: notes.some((n) => n.level === "error") ? "error" : "warning",
        title: `${name}: ${notes.length} problem${notes.length === 1 ? "" : "s"} found by the daily health check`,
        text: notes.map((n) => n.message).join(" "),
        facts: [{ label: "Integration", value: name }],
        link: { label: "Open the Integration Hub", url: `${base}/integrations` },
      };
    }
    case "scan.failed": {
      const name = await integrationName(p.integrationId);
      return {
        ...common,
        level: "error",
        title: `A sync of ${name} failed`,
        text: `${String(p.reason)} It was tried several times and has stopped; the next scheduled sync or Sync now tries again.`,
        facts: [{ label: "Integration", value: name }],
        link: { label: "Open the jobs page", url: `${base}/jobs` },
      };
    }
    case "ticket.push_failed": {
      const mapping = await db.selectFrom("tracker_mappings").select(["id", "name"]).where("id", "=", Number(p.mappingId)).executeTakeFirst();
      const tracker = await integrationName(p.integrationId);
      const facts = [
        { label: "Tracker", value: tracker },
        { label: "Finding", value: String(p.subjectLabel) },
      ];
      if (p.httpStatus) facts.push({ label: "HTTP status", value: String(p.httpStatus) });
      if (p.trackerMessage) facts.push({ label: "The tracker said", value: String(p.trackerMessage) });
      return {
        ...common,
        level: "error",
        title: `Pushing a ticket to ${mapping?.name ?? "a tracker"} failed`,
        text: String(p.reason),
        facts,
        link: { label: "Open the error table", url: mapping ? `${base}/trackers/mappings/${mapping.id}/errors` : `${base}/trackers` },
      };
    }
    case "findings.new": {
      const counts = p.counts as Record<Severity, number>;
      const min = minSeverity(settings);
      const shown = SEVERITIES.filter((s) => SEVERITY_RANK[s] >= SEVERITY_RANK[min] && counts[s] > 0);
      const total = shown.reduce((n, s) => n + counts[s], 0);
      const name = await integrationName(p.integrationId);
      const query = shown.map((s) => `severity=${s}`).join("&");
      return {
        ...common,
        level: counts.critical > 0 ? "warning" : "info",
        title: `${total} new ${shown.join(" and ")} finding${total === 1 ? "" : "s"} from ${name}`,
        text: `The latest scan of ${name} found ${total} finding${total === 1 ? "" : "s"} Patchbay had not seen before.`,
        facts: shown.map((s) => ({ label: s.charAt(0).toUpperCase() + s.slice(1), value: String(counts[s]) })),
        link: { label: "Open Vulnerabilities", url: `${base}/vulnerabilities?${query}` },
      };
    }
    case "remediation.merged": {
      const r = await db
        .selectFrom("remediations")
        .innerJoin("repositories", "repositories.id", "remediations.repository_id")
        .select(["remediations.number", "remediations.title", "remediations.url", "repositories.full_name"])
        .where("remediations.id", "=", Number(p.remediationId))
        .executeTakeFirst();
      if (!r) return undefined;
      const fixed = Array.isArray(p.findingIds) ? p.findingIds.length : 0;
      return {
        ...common,
        level: "info",
        title: `Merged: ${r.full_name}#${r.number} ${r.title}`,
        text: `A remediation pull request was merged; ${fixed} finding${fixed === 1 ? " is" : "s are"} resolved, pending the next scan's confirmation.`,
        facts: [
          { label: "Repository", value: r.full_name },
          { label: "Findings fixed", value: String(fixed) },
        ],
        link: { label: "Open the pull request", url: r.url },
      };
    }
    case "findings.kev": {
      const counts = p.counts as Record<Severity, number>;
      const shown = SEVERITIES.filter((s) => counts[s] > 0);
      const total = shown.reduce((n, s) => n + counts[s], 0);
      const cves = (Array.isArray(p.cves) ? p.cves : []).map(String);
      return {
        ...common,
        level: "warning",
        title: `${total} open finding${total === 1 ? "" : "s"} entered CISA's Known Exploited Vulnerabilities`,
        text: `CISA has evidence that ${cves.length === 1 ? `${cves[0]} is` : `${cves.slice(0, 10).join(", ")}${cves.length > 10 ? ` and ${cves.length - 10} more are` : " are"}`} exploited.`,
        facts: shown.map((s) => ({ label: s.charAt(0).toUpperCase() + s.slice(1), value: String(counts[s]) })),
        link: {
          label: "Open Vulnerabilities",
          url: cves.length === 1 ? `${base}/vulnerabilities?q=${encodeURIComponent(cves[0]!)}` : `${base}/vulnerabilities`,
        },
      };
    }
    case "sla.approaching": {
      const counts = p.counts as Record<Severity, number>;
      const shown = SEVERITIES.filter((s) => counts[s] > 0);
      const total = shown.reduce((n, s) => n + counts[s], 0);
      const overdue = Number(p.overdue ?? 0);
      return {
        ...common,
        level: counts.critical > 0 || overdue > 0 ? "warning" : "info",
        title: `${total} finding${total === 1 ? " reaches its" : "s reach their"} SLA deadline within ${Number(p.days)} days`,
        text: `${total === 1 ? "It is" : "They are"} still open${p.soonest ? `; the first deadline is ${String(p.soonest).slice(0, 10)}` : ""}.${overdue ? ` ${overdue} other finding${overdue === 1 ? " is" : "s are"} already overdue.` : ""}`,
        facts: [
          ...shown.map((s) => ({ label: s.charAt(0).toUpperCase() + s.slice(1), value: String(counts[s]) })),
          ...(overdue ? [{ label: "Overdue", value: String(overdue) }] : []),
        ],
        link: { label: "Open the findings due soon", url: `${base}/vulnerabilities?due=soon` },
      };
    }
    default:
      return undefined;
  }
}
