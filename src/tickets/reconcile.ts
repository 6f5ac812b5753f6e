// Reconciliation: when events were missed (a webhook down, a delivery lost, a tracker that
// sends none), a mapping's linked tickets are compared with their live status in the tracker,
// 50 at a time, and each difference is repaired in the mapping's direction — Patchbay wins
// (the ticket moves back to the status its findings call for), the tracker wins (the status
// is applied to the findings as if a person had just set it), or report only — and written
// into the run's report. Daily, and from the mapping page. A run resumes after the last
// ticket it compared if the process stops.
import { updateTicket } from "./store.js";
import { createRun, findRun, latestRun, runningReconcile, updateRun } from "./runs.js";
import type { Services } from "../services.js";
import type { Db, ReconcileDirection, ReconcileRun, Ticket } from "../db/schema.js";
import { enqueue, integrationLane, jobKind } from "../jobs/queue.js";
import type { JobHandler } from "../jobs/worker.js";
import { redactText } from "../log.js";
import { applyTicketEvent, eventReceiver } from "./inbound.js";
import { enqueuePush, openTracker, recordMove } from "./push.js";
import type { TicketRef } from "../connectors/types.js";
import type { TicketState } from "./render.js";

export const RECONCILE_JOB = jobKind<{ runId: number; mappingId: number }>("tickets.reconcile", {
  label: "Ticket reconciliation",
  maxAttempts: 5,
  dedupe: (p) => `tickets.reconcile:${p.mappingId}`,
});
export const POLL_JOB = jobKind<{ mappingId: number }>("tickets.poll", { label: "Ticket poll", maxAttempts: 2, dedupe: (p) => `tickets.poll:${p.mappingId}` });
/** Hourly: finds the mappings whose tracker cannot send events, and polls each. */
export const POLL_DUE_JOB = jobKind("tickets.poll-due", { label: "Ticket poll schedule", dedupe: "one" });
const PAGE = 50;
const REPORT_MAX = 500;

export const RECONCILE_DIRECTIONS: Record<ReconcileDirection, string> = {
  report: "Report only: list the differences, change nothing",
  patchbay: "Patchbay wins: move each ticket back to the status its findings call for",
  tracker: "The tracker wins: apply each ticket's status to its findings",
};

export interface ReconcileEntry {
  ticket: string;
  url: string | null;
  /** The status Patchbay expects the ticket in. */
  expected: string;
  /** The status the tracker has it in, or "missing". */
  actual: string;
  action: string;
  /** A link-by-CVE run's proposed link, applied when an admin approves the run. */
  proposal?: { ticketId: string; findingId: number; subjectKey: string };
}

/** Starts a run for a mapping (one at a time); returns its id. */
export async function startReconcile(db: Db, mappingId: number, by: string, now: Date): Promise<number> {
  const running = await runningReconcile(db, mappingId);
  if (running !== undefined) return running;
  const mapping = await db.selectFrom("tracker_mappings").select(["integration_id", "inbound"]).where("id", "=", mappingId).executeTakeFirstOrThrow();
  const direction = (JSON.parse(mapping.inbound || "{}") as { reconcile?: ReconcileDirection }).reconcile ?? "report";
  const runId = await createRun(db, mappingId, direction, by, now);
  await enqueue(db, RECONCILE_JOB, { runId, mappingId }, now, { lane: integrationLane(mapping.integration_id) });
  return runId;
}

/** The mapping's last reconciliation, or (with `link`) its last linking of existing tickets, with its report read. */
export async function latestReconcile(db: Db, mappingId: number, link = false): Promise<(ReconcileRun & { entries: ReconcileEntry[] }) | undefined> {
  const run = await latestRun(db, mappingId, link);
  return run && { ...run, entries: JSON.parse(run.report) as ReconcileEntry[] };
}

export function reconcileHandler(deps: Services): JobHandler<{ runId: number }> {
  return async ({ job, payload, logger, progress }) => {
    const { db } = deps;
    const { runId } = payload;
    const run = await findRun(db, runId);
    if (!run || run.status !== "running" || run.direction === "link") return;
    const direction = run.direction;
    const fail = (message: string) => updateRun(db, runId, { status: "failed", error: message, finished_at: deps.now().toISOString() });
    const handle = await openTracker(deps, run.mapping_id, logger);
    if (!handle) return void (await fail("The mapping or its tracker integration is gone."));
    const total = Number(
      (
        await db
          .selectFrom("tickets")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .where("mapping_id", "=", run.mapping_id)
          .where("linked_at", "is not", null)
          .executeTakeFirstOrThrow()
      ).n,
    );
    await updateRun(db, runId, { total, error: null });
    const tracker = { integrationId: handle.integration.id, name: handle.integration.name, self: undefined };
    let { after_ticket: after, checked, differences, repaired } = run;
    const report = JSON.parse(run.report) as ReconcileEntry[];
    try {
      for (;;) {
        const tickets = await db
          .selectFrom("tickets")
          .selectAll()
          .where("mapping_id", "=", run.mapping_id)
          .where("linked_at", "is not", null)
          .where("id", ">", after)
          .orderBy("id")
          .limit(PAGE)
          .execute();
        if (!tickets.length) break;
        const live = await handle.session.states(
          handle.data.target,
          tickets.map((t) => ({ id: t.external_id!, key: t.external_key!, url: t.url! })),
        );
        for (const ticket of tickets) {
          await followMove(deps, ticket, live.get(ticket.external_id!));
          const entry = await compare(deps, handle, tracker, direction, ticket, live.get(ticket.external_id!));
          if (entry) {
            differences++;
            if (entry.repaired) repaired++;
            if (report.length < REPORT_MAX) report.push(entry.entry);
          }
        }
        checked += tickets.length;
        after = tickets.at(-1)!.id;
        await updateRun(db, runId, { checked, differences, repaired, after_ticket: after, report: JSON.stringify(report) });
        await progress({ done: checked, total, message: `${differences} difference${differences === 1 ? "" : "s"}` });
      }
    } catch (err) {
      const message = redactText(err instanceof Error ? err.message : String(err));
      if (job.attempts >= job.max_attempts) await fail(message);
      else await updateRun(db, runId, { error: `${message} It will be retried and resume where it stopped.` });
      throw err;
    }
    await updateRun(db, runId, { status: "succeeded", finished_at: deps.now().toISOString() });
    logger.info("reconciliation finished", { mappingId: run.mapping_id, checked, differences, repaired, direction: run.direction });
  };
}

async function compare(
  deps: Services,
  handle: NonNullable<Awaited<ReturnType<typeof openTracker>>>,
  tracker: { integrationId: number; name: string; self: undefined },
  direction: ReconcileDirection,
  ticket: Ticket,
  live: { id: string; name: string } | undefined,
): Promise<{ entry: ReconcileEntry; repaired: boolean } | undefined> {
  const { db } = deps;
  const name = (id: string | undefined) => (id ? (handle.data.statusNames[id] ?? id) : "any status");
  const expectedId = ticket.state ? handle.data.statusMap[ticket.state as TicketState] : undefined;
  const base = { ticket: ticket.external_key ?? ticket.external_id ?? String(ticket.id), url: ticket.url, expected: name(expectedId) };
  if (!live)
    return {
      entry: {
        ...base,
        actual: "deleted",
        action: `Reported: deleted in ${tracker.name}, or no longer readable by Patchbay's account. The other tickets were checked.`,
      },
      repaired: false,
    };
  await updateTicket(db, ticket.id, { remote_status: live.id });
  if (!expectedId || live.id === expectedId) return undefined;
  const entry = { ...base, actual: live.name };
  if (direction === "report") return { entry: { ...entry, action: "Reported." }, repaired: false };
  if (direction === "patchbay") {
    // The push engine moves a ticket when its recorded state differs from its findings'.
    await updateTicket(db, ticket.id, { state: null });
    await enqueuePush(db, ticket.mapping_id, ticket.subject_key, deps.now());
    return { entry: { ...entry, action: `Moved back to ${name(expectedId)}.` }, repaired: true };
  }
  const result = await applyTicketEvent(
    db,
    tracker,
    {
      ticket: { id: ticket.external_id ?? undefined, key: ticket.external_key ?? undefined },
      at: deps.now().toISOString(),
      actor: { id: "", name: "reconciliation" },
      status: live,
    },
    deps.now(),
  );
  const changed = result.outcome === "processed" && !/leaves the findings as they are|is the one Patchbay set/.test(result.detail);
  return { entry: { ...entry, action: changed ? `Applied to the findings: ${result.detail}.` : `Nothing applied: ${result.detail}.` }, repaired: changed };
}

/**
 * Polling, where a tracker's events cannot arrive (no webhook secret set up): each linked
 * ticket's live status is compared with the one last seen, and a change is applied as the
 * event would have been. Hourly. A ticket seen for the first time is only recorded.
 */
export async function enqueuePolls(deps: Pick<Services, "db" | "catalogue" | "vault">, now: Date): Promise<number> {
  let queued = 0;
  const mappings = await deps.db
    .selectFrom("tracker_mappings")
    .innerJoin("integrations", "integrations.id", "tracker_mappings.integration_id")
    .selectAll("integrations")
    .select("tracker_mappings.id as mapping_id")
    .execute();
  for (const { mapping_id, ...integration } of mappings) {
    const { receiver, secretField } = await eventReceiver(deps.db, deps.catalogue, integration);
    if (secretField && deps.vault.openSecrets(receiver.secrets)[secretField]) continue;
    await enqueue(deps.db, POLL_JOB, { mappingId: mapping_id }, now, { lane: integrationLane(integration.id) });
    queued++;
  }
  return queued;
}

export function pollHandler(deps: Services): JobHandler<{ mappingId: number }> {
  return async ({ payload, logger, progress }) => {
    const { db } = deps;
    const { mappingId } = payload;
    const handle = await openTracker(deps, mappingId, logger);
    if (!handle) return;
    const tracker = { integrationId: handle.integration.id, name: handle.integration.name, self: undefined };
    let after = 0;
    let applied = 0;
    let checked = 0;
    for (;;) {
      const tickets = await db
        .selectFrom("tickets")
        .selectAll()
        .where("mapping_id", "=", mappingId)
        .where("linked_at", "is not", null)
        .where("id", ">", after)
        .orderBy("id")
        .limit(PAGE)
        .execute();
      if (!tickets.length) break;
      const live = await handle.session.states(
        handle.data.target,
        tickets.map((t) => ({ id: t.external_id!, key: t.external_key!, url: t.url! })),
      );
      for (const ticket of tickets) {
        const status = live.get(ticket.external_id!);
        await followMove(deps, ticket, status);
        if (!status || status.id === ticket.remote_status) continue;
        if (ticket.remote_status === null) {
          await updateTicket(db, ticket.id, { remote_status: status.id });
          continue;
        }
        const result = await applyTicketEvent(
          db,
          tracker,
          {
            ticket: { id: ticket.external_id ?? undefined, key: ticket.external_key ?? undefined },
            at: deps.now().toISOString(),
            actor: { id: "", name: "someone (seen by polling)" },
            status,
          },
          deps.now(),
        );
        if (result.outcome === "processed") applied++;
      }
      checked += tickets.length;
      after = tickets.at(-1)!.id;
      await progress({ done: checked, total: checked, message: `${applied} change${applied === 1 ? "" : "s"} applied` });
    }
    logger.info("tracker polled", { mappingId, checked, applied });
  };
}

export function pollDueHandler(deps: Services): JobHandler {
  return async ({ logger }) => {
    const queued = await enqueuePolls(deps, deps.now());
    if (queued) logger.info("tracker polls queued", { queued });
  };
}

/** A ticket the tracker moved (a transferred issue) is pointed at its new place, with a changelog line. */
async function followMove(deps: Pick<Services, "db" | "now">, ticket: Ticket, status: { movedTo?: TicketRef } | undefined): Promise<void> {
  if (!status?.movedTo || (status.movedTo.id === ticket.external_id && status.movedTo.key === ticket.external_key)) return;
  await recordMove(
    deps.db,
    ticket.id,
    { id: ticket.external_id!, key: ticket.external_key!, url: ticket.url! },
    { to: status.movedTo, how: "moved in the tracker" },
    deps.now(),
  );
}
