// Linking tickets that already exist in the tracker instead of creating duplicates: a person
// links a finding to a ticket by its key or address, or a mapping links the tickets whose titles
// name a CVE to the findings of that CVE it covers. A linked ticket is someone else's: Patchbay
// never replaces its title, description or fields; it comments on it, and moves its status
// only where the mapping says so. Statuses and comments come back through two-way sync.
import { claimProposedRun, createRun, findRun, updateRun } from "./runs.js";
import type { Services } from "../services.js";
import type { ExistingTicket } from "../connectors/types.js";
import { cvesIn } from "../connectors/types.js";
import type { Db, Finding } from "../db/schema.js";
import { enqueue, integrationLane, jobKind } from "../jobs/queue.js";
import type { JobHandler } from "../jobs/worker.js";
import { redactText } from "../log.js";
import { coveringMappings } from "./coverage.js";
import { markerFor, openTracker } from "./push.js";
import type { ReconcileEntry } from "./reconcile.js";
import { insertLinkedTicket, recordChange } from "./store.js";

/** One run at a time per mapping: the key is the mapping's, given at enqueue. */
export const LINK_JOB = jobKind<{ runId: number; mappingId: number }>("tickets.link-existing", {
  label: "Link existing tickets",
  maxAttempts: 3,
  dedupe: (p) => `tickets.link-existing:${p.mappingId}`,
});
/** Tickets read from the tracker by one import. */
const IMPORT_LIMIT = 2000;

/** Records the link: a ticket row of origin "linked", and the finding it covers. */
async function link(
  db: Db,
  mapping: { id: number; name: string },
  finding: Pick<Finding, "id">,
  subjectKey: string,
  ticket: Pick<ExistingTicket, "id" | "key" | "url">,
  detail: string,
  now: Date,
): Promise<string | undefined> {
  const taken = await db
    .selectFrom("tickets")
    .select(["subject_key"])
    .where("mapping_id", "=", mapping.id)
    .where("external_id", "=", ticket.id)
    .executeTakeFirst();
  if (taken) return `${ticket.key} is already linked (to ${taken.subject_key.replace(":", " ")}).`;
  const existing = await db
    .selectFrom("tickets")
    .select(["external_key", "linked_at"])
    .where("mapping_id", "=", mapping.id)
    .where("subject_key", "=", subjectKey)
    .executeTakeFirst();
  if (existing)
    return existing.linked_at
      ? `This finding already has a ticket in ${mapping.name}: ${existing.external_key}.`
      : "A push of this finding is creating its ticket right now; try again in a minute.";
  const id = await insertLinkedTicket(db, mapping.id, subjectKey, markerFor(mapping.id, subjectKey), ticket, finding.id, now);
  // Between the look and the insert, a push (here or in another process) took the subject.
  if (id === undefined) return "A push of this finding is creating its ticket right now; try again in a minute.";
  await recordChange(db, id, "linked", detail, now);
  return undefined;
}

/** Links a finding to an existing ticket a person names; returns an error message, or the ticket linked. */
export async function linkByHand(
  deps: Services,
  finding: Finding,
  mappingId: number,
  reference: string,
  by: string,
  logger: Parameters<typeof openTracker>[2],
): Promise<{ ok: true; ticket: ExistingTicket } | { ok: false; message: string }> {
  const coverage = (await coveringMappings(deps.db, finding)).find((c) => c.mappingId === mappingId);
  if (!coverage) return { ok: false, message: "No assignment of this tracker project covers the finding: add one on the project's page first." };
  if (!reference.trim()) return { ok: false, message: "Enter the ticket's key or address." };
  const handle = await openTracker(deps, mappingId, logger);
  if (!handle) return { ok: false, message: "The tracker project is gone." };
  const ticket = await handle.session.lookup(handle.data.target, reference.trim().slice(0, 500));
  if (!ticket)
    return {
      ok: false,
      message: `${handle.data.target.project.name} has no ticket "${reference.trim().slice(0, 100)}". Enter its key (or paste its address) as the tracker shows it.`,
    };
  const refused = await link(
    deps.db,
    handle.mapping,
    finding,
    coverage.subjectKey,
    ticket,
    `Linked by ${by} to ${ticket.key}, which existed in the tracker`,
    deps.now(),
  );
  return refused ? { ok: false, message: refused } : { ok: true, ticket };
}

/**
 * Starts a run that finds the project's tickets naming a CVE and proposes linking each to a
 * finding of that CVE; nothing is linked until an admin approves the run as a whole.
 */
export async function startLinkByCve(db: Db, mappingId: number, by: string, now: Date): Promise<number> {
  const mapping = await db.selectFrom("tracker_mappings").select("integration_id").where("id", "=", mappingId).executeTakeFirstOrThrow();
  const runId = await createRun(db, mappingId, "link", by, now);
  await enqueue(db, LINK_JOB, { runId, mappingId }, now, { lane: integrationLane(mapping.integration_id) });
  return runId;
}

export function linkByCveHandler(deps: Services): JobHandler<{ runId: number }> {
  return async ({ job, payload, logger, progress }) => {
    const { db } = deps;
    const { runId } = payload;
    const run = await findRun(db, runId);
    if (!run || run.status !== "running") return;
    const handle = await openTracker(deps, run.mapping_id, logger);
    const finish = (set: { status: "proposed" | "failed"; error?: string }) => updateRun(db, runId, { ...set, finished_at: deps.now().toISOString() });
    if (!handle) return void (await finish({ status: "failed", error: "The mapping or its tracker integration is gone." }));
    let tickets: ExistingTicket[];
    try {
      tickets = await handle.session.withCves(handle.data.target, IMPORT_LIMIT);
    } catch (err) {
      const message = redactText(err instanceof Error ? err.message : String(err));
      if (job.attempts >= job.max_attempts) await finish({ status: "failed", error: message });
      throw err;
    }
    const report: ReconcileEntry[] = [];
    const proposedSubjects = new Set<string>();
    let proposed = 0;
    let checked = 0;
    for (const ticket of tickets) {
      checked++;
      const cves = cvesIn(ticket.title);
      const entry: ReconcileEntry = {
        ticket: ticket.key,
        url: ticket.url,
        expected: cves.join(", "),
        actual: ticket.title.slice(0, 200),
        action: "No open finding with this CVE.",
      };
      const linked = await db
        .selectFrom("tickets")
        .select("id")
        .where("mapping_id", "=", run.mapping_id)
        .where("external_id", "=", ticket.id)
        .executeTakeFirst();
      if (linked) entry.action = "Already linked.";
      const findings = linked
        ? []
        : await db
            .selectFrom("findings")
            .selectAll()
            .where("cve", "in", cves)
            .where("status", "in", ["open", "in_remediation"])
            .orderBy("id")
            .limit(200)
            .execute();
      for (const finding of findings) {
        // One ticket stands for one subject, and a subject gets one ticket.
        const coverage = (await coveringMappings(db, finding)).find((c) => c.mappingId === run.mapping_id);
        if (!coverage || proposedSubjects.has(coverage.subjectKey)) continue;
        if (
          await db.selectFrom("tickets").select("id").where("mapping_id", "=", run.mapping_id).where("subject_key", "=", coverage.subjectKey).executeTakeFirst()
        )
          continue;
        proposedSubjects.add(coverage.subjectKey);
        entry.action = `To link to finding #${finding.id} (${finding.cve} in ${finding.package ?? "?"} ${finding.installed_version ?? ""}).`;
        entry.proposal = { ticketId: ticket.id, findingId: finding.id, subjectKey: coverage.subjectKey };
        proposed++;
        break;
      }
      if (findings.length && !entry.proposal) entry.action = "Not proposed: its findings already have tickets here, or no assignment covers them.";
      report.push(entry);
      if (checked % 50 === 0) await progress({ done: checked, total: tickets.length });
    }
    await updateRun(db, runId, { checked, total: tickets.length, differences: proposed, repaired: 0, report: JSON.stringify(report.slice(0, 500)) });
    await finish({ status: "proposed" });
    logger.info("existing tickets proposed for linking", { mappingId: run.mapping_id, tickets: tickets.length, proposed });
  };
}

/** An admin approves a proposed run: each proposed link is made (checked again: things moved since). */
export async function approveLinkByCve(db: Db, mappingId: number, runId: number, by: string, now: Date): Promise<string> {
  if (!(await claimProposedRun(db, mappingId, runId))) return "These links were already approved, or the run is not waiting for approval.";
  const run = (await findRun(db, runId))!;
  const mapping = await db.selectFrom("tracker_mappings").select(["id", "name"]).where("id", "=", mappingId).executeTakeFirstOrThrow();
  const report = JSON.parse(run.report) as ReconcileEntry[];
  let linked = 0;
  for (const entry of report) {
    if (!entry.proposal) continue;
    const refused = await link(
      db,
      mapping,
      { id: entry.proposal.findingId },
      entry.proposal.subjectKey,
      { id: entry.proposal.ticketId, key: entry.ticket, url: entry.url ?? "" },
      `Linked to ${entry.ticket}, an existing ticket naming ${entry.expected} (approved by ${by})`,
      now,
    );
    entry.action = refused ? `Not linked: ${refused}` : `Linked to finding #${entry.proposal.findingId}.`;
    if (!refused) linked++;
  }
  await updateRun(db, runId, { status: "succeeded", repaired: linked, report: JSON.stringify(report), finished_at: now.toISOString() });
  return `${linked} ticket${linked === 1 ? "" : "s"} linked.`;
}
