// Two-way sync, inbound: a change a person makes to a ticket in the tracker comes back to its
// findings. Each mapping says what a tracker status means (done → resolved pending the next
// scan's confirmation; won't fix → risk accepted with who and why; false positive; reopened →
// open). Comments go into the findings' history.
//
// No loops and no echoes: changes made by Patchbay's own account are ignored, as is a status
// that is the one Patchbay last set; a delivery older than the last change applied is ignored
// (trackers deliver out of order); the ticket's Patchbay state is set to match, so the push
// engine has nothing to send back.
import type { Services } from "../services.js";
import { connectorContext } from "../connectors/context.js";
import type { ConnectorCatalogue } from "../connectors/catalogue.js";
import type { TicketEvent, TrackerChoice } from "../connectors/types.js";
import type { Db, Finding, FindingStatus, Integration, ReconcileDirection, Ticket, TrackerMapping } from "../db/schema.js";
import { connectionOf } from "../integrations/reused.js";
import { requestTicketSweep } from "./sweep.js";
import { moveFindings, noteFindings, setStatusReason } from "../findings/status.js";
import type { TicketState } from "./render.js";
import { recordChange, recordMove, type StatusMap, updateTicket } from "./store.js";

export type InboundAction = "none" | "open" | "resolved" | "risk_accepted" | "false_positive";

export const INBOUND_ACTIONS: Record<InboundAction, string> = {
  none: "Leave the findings as they are",
  open: "Open (reopened)",
  resolved: "Resolved, pending the next scan's confirmation",
  risk_accepted: "Risk accepted (who and why from the tracker)",
  false_positive: "False positive",
};

export type StillDetected = "reopen" | "flag";
export const STILL_DETECTED: Record<StillDetected, string> = {
  reopen: "Reopen the ticket with a comment",
  flag: "Only flag the finding; leave the ticket closed",
};

/** What Patchbay may do to a ticket it did not create but was linked to: never rewrite it. */
export type LinkedTickets = "comment" | "comment_and_move";

export const LINKED_TICKETS: Record<LinkedTickets, string> = {
  comment: "Only comment on it (remediation pull requests, still detected)",
  comment_and_move: "Comment on it and move its status with its findings",
};

function linkedTickets(value: unknown): LinkedTickets {
  return value === "comment_and_move" ? "comment_and_move" : "comment";
}

export interface InboundSettings {
  /** Tracker status id → what the ticket's findings become when a person moves it there. */
  map: Record<string, InboundAction>;
  /** A ticket closed in the tracker whose finding a scan still reports. */
  stillDetected: StillDetected;
  /** Reconciliation: which side wins when a ticket's live status differs from Patchbay's. */
  reconcile: ReconcileDirection;
  /** Every status's name, for messages (some trackers' events carry only ids). */
  names: Record<string, string>;
  /** Tickets linked by hand or by CVE: their title, description and fields are never replaced. */
  linkedTickets: LinkedTickets;
}

const DIRECTIONS: ReconcileDirection[] = ["report", "patchbay", "tracker"];

/** A risk accepted in the tracker lasts as long as Patchbay allows one to: a year, then it is reviewed. */
const ACCEPTANCE_DAYS = 365;

export function inboundSettings(mapping: Pick<TrackerMapping, "inbound">): InboundSettings {
  const parsed = JSON.parse(mapping.inbound || "{}") as Partial<InboundSettings>;
  return {
    map: parsed.map ?? {},
    stillDetected: parsed.stillDetected === "flag" ? "flag" : "reopen",
    reconcile: DIRECTIONS.includes(parsed.reconcile as ReconcileDirection) ? (parsed.reconcile as ReconcileDirection) : "report",
    names: parsed.names ?? {},
    linkedTickets: linkedTickets(parsed.linkedTickets),
  };
}

/** The obvious reading of a workflow: the statuses the outbound map uses, read back; "not planned" and "won't" as risk accepted. */
export function suggestedInbound(statuses: TrackerChoice[], statusMap: StatusMap): InboundSettings {
  const map: Record<string, InboundAction> = {};
  for (const s of statuses) {
    if (s.id === statusMap.done) map[s.id] = "resolved";
    else if (s.id === statusMap.accepted || /won.?t|not planned|declined|risk/i.test(s.name)) map[s.id] = "risk_accepted";
    else if (/false.?positive|not a bug|invalid|cannot reproduce/i.test(s.name)) map[s.id] = "false_positive";
    else if (s.id === statusMap.open || /reopen/i.test(s.name)) map[s.id] = "open";
    else map[s.id] = "none";
  }
  return { map, stillDetected: "reopen", reconcile: "report", names: Object.fromEntries(statuses.map((s) => [s.id, s.name])), linkedTickets: "comment" };
}

/** The inbound part of the mapping form: one choice per tracker status, and the still-detected rule. */
export function parseInboundForm(form: Record<string, string | undefined>, statuses: TrackerChoice[]): InboundSettings {
  const map: Record<string, InboundAction> = {};
  for (const s of statuses) {
    const value = form[`inbound.${s.id}`] ?? "none";
    map[s.id] = value in INBOUND_ACTIONS ? (value as InboundAction) : "none";
  }
  return {
    map,
    stillDetected: form.stillDetected === "flag" ? "flag" : "reopen",
    reconcile: DIRECTIONS.includes(form.reconcile as ReconcileDirection) ? (form.reconcile as ReconcileDirection) : "report",
    names: Object.fromEntries(statuses.map((s) => [s.id, s.name])),
    linkedTickets: linkedTickets(form.linkedTickets),
  };
}

const DONE_WORDS: Record<Exclude<InboundAction, "none">, string> = {
  open: "reopened",
  resolved: "resolved",
  risk_accepted: "accepted as a risk",
  false_positive: "marked false positive",
};

const STATE_OF: Record<Exclude<InboundAction, "none">, TicketState> = { open: "open", resolved: "done", risk_accepted: "accepted", false_positive: "accepted" };

export interface InboundTracker {
  integrationId: number;
  /** The tracker's name for people: "Jira Cloud (acme)". */
  name: string;
  /** Patchbay's own account in the tracker, when known. */
  self: string | undefined;
}

/**
 * The ticket event in a delivery: to a tracker's own webhook (Jira), or to a source control
 * webhook a tracker reuses (GitHub Issues on its GitHub integration). Undefined when the
 * delivery is not about tickets.
 */
export async function ticketDelivery(
  deps: Services,
  integration: Integration,
  event: string,
  body: string,
  contentType: string,
): Promise<{ tracker: InboundTracker; event: TicketEvent } | undefined> {
  const own = deps.catalogue.get(integration.kind)?.tracker ? [integration] : [];
  // Trackers that name this integration as their source ("integration" fields).
  const linked = (await deps.db.selectFrom("integrations").selectAll().where("id", "!=", integration.id).execute()).filter(
    (i) =>
      deps.catalogue.get(i.kind)?.tracker?.inbound &&
      Object.values(JSON.parse(i.settings) as Record<string, unknown>).some((v) => String(v) === String(integration.id)),
  );
  for (const candidate of [...own, ...linked]) {
    const connector = deps.catalogue.get(candidate.kind)!;
    const parsed = connector.tracker?.inbound?.parse(event, body, contentType);
    if (!parsed) continue;
    return { tracker: { integrationId: candidate.id, name: candidate.name, self: await selfOf(deps, candidate) }, event: parsed };
  }
  return undefined;
}

/**
 * Where a tracker integration's events arrive: its own webhook, or (for a tracker that reuses
 * another integration's credentials, like GitHub Issues on a GitHub integration) that one's.
 */
export async function eventReceiver(
  db: Db,
  catalogue: ConnectorCatalogue,
  integration: Integration,
): Promise<{ receiver: Integration; via: Integration | undefined; secretField: string | undefined }> {
  const connector = catalogue.get(integration.kind);
  const settings = JSON.parse(integration.settings) as Record<string, unknown>;
  const linkField = connector?.fields.find((f) => f.type === "integration" && settings[f.name]);
  const via = linkField ? await db.selectFrom("integrations").selectAll().where("id", "=", Number(settings[linkField.name])).executeTakeFirst() : undefined;
  const receiver = via ?? integration;
  const secretField = via ? catalogue.get(receiver.kind)?.scm?.webhook.secretField : connector?.tracker?.inbound?.secretField;
  return { receiver, via, secretField };
}

// Patchbay's own account per tracker integration, asked once in a while.
const selves = new Map<number, { id: string | undefined; at: number; version: string }>();
const SELF_TTL_MS = 10 * 60_000;

async function selfOf(deps: Services, integration: Integration): Promise<string | undefined> {
  const cached = selves.get(integration.id);
  const now = deps.now().getTime();
  if (cached && cached.version === integration.updated_at && now - cached.at < SELF_TTL_MS) return cached.id;
  const connector = deps.catalogue.get(integration.kind)!;
  let id: string | undefined;
  try {
    const session = connector.tracker!.session(await connectionOf(deps, connector, integration), connectorContext(deps.env));
    id = await session.whoami?.();
  } catch (err) {
    // Without it, Patchbay's own changes are still recognised by the status it set.
    deps.env.logger.warn("tracker account lookup failed", { integrationId: integration.id, error: err });
  }
  selves.set(integration.id, { id, at: now, version: integration.updated_at });
  return id;
}

/** Applies one ticket event; returns what it did, for the delivery's record. */
export async function applyTicketEvent(
  db: Db,
  tracker: InboundTracker,
  event: TicketEvent,
  now: Date,
): Promise<{ outcome: "processed" | "ignored"; detail: string }> {
  const ignored = (detail: string) => ({ outcome: "ignored" as const, detail });
  const found = await findTicket(db, tracker.integrationId, event.ticket);
  if (!found) return ignored(`${event.ticket.key ?? event.ticket.id} is not a ticket Patchbay created or linked.`);
  const { ticket, mapping } = found;
  const label = ticket.external_key ?? event.ticket.key ?? event.ticket.id ?? "the ticket";
  // Moved elsewhere in the tracker: followed there, and from now on matched by its new key only.
  if (event.movedTo) {
    if (event.movedTo.to.key === ticket.external_key) return ignored(`${label} is followed there already.`);
    await recordMove(db, ticket.id, { id: ticket.external_id ?? "", key: label, url: ticket.url ?? "" }, event.movedTo, now);
    return { outcome: "processed", detail: `${label} is now ${event.movedTo.to.key}; Patchbay follows it there.` };
  }
  if (tracker.self && event.actor.id === tracker.self) return ignored(`The change to ${label} was made by Patchbay itself.`);
  // Only status changes order status changes: a comment (delivered on its own, maybe before
  // the transition it explains) never makes a status change look stale.
  if (event.status && ticket.remote_seen_at && event.at < ticket.remote_seen_at)
    return ignored(`The change to ${label} at ${event.at} is older than the last one applied (${ticket.remote_seen_at}).`);
  const memo = readMemo(ticket.remote_comment);
  const commentKey = event.comment?.id ? `seen-comment:${event.comment.id}` : undefined;
  const notes = JSON.parse(ticket.notes || "[]") as string[];
  const repeated = commentKey !== undefined && notes.includes(commentKey);
  if (repeated && !event.status) return ignored(`The comment on ${label} was recorded already.`);

  const stamp = now.toISOString();
  const actor = `${tracker.name}: ${event.actor.name}`;
  return db.transaction().execute(async (trx) => {
    const findings = await trx
      .selectFrom("findings")
      .innerJoin("ticket_findings", "ticket_findings.finding_id", "findings.id")
      .selectAll("findings")
      .where("ticket_findings.ticket_id", "=", ticket.id)
      .execute();
    const done: string[] = [];
    const author = event.actor.id || event.actor.name;
    let comment: string | undefined;
    const nextMemo: InboundMemo = { ...memo };
    if (event.comment?.text.trim() && !repeated) {
      comment = event.comment.text.trim().slice(0, 1000);
      nextMemo.comment = { text: comment, author, at: event.at };
      await noteFindings(
        trx,
        findings.map((finding) => ({ finding, note: `Comment on ${label}: ${comment}` })),
        actor,
        stamp,
      );
      done.push("comment recorded");
      // Delivered after the transition it explains (same person, within a minute): the reason gets it.
      if (!event.status && memo.status && memo.status.author === author && nearby(memo.status.at, event.at)) {
        const explained = await explainTransition(trx, findings, memo.status.reason, comment);
        if (explained) done.push(`the reason of ${memo.status.reason.split(" in ")[0]} now quotes it`);
      }
    } else if (event.status && memo.comment && memo.comment.author === author && nearby(memo.comment.at, event.at)) {
      // A comment delivered on its own just before, by the same person: the transition's reason.
      comment = memo.comment.text;
    }
    const update: Partial<Record<"remote_status" | "remote_seen_at" | "remote_comment" | "state", string | null>> & { notes?: string } = {};
    if (commentKey && !repeated) update.notes = JSON.stringify([...notes, commentKey].slice(-200));
    if (event.status) {
      update.remote_seen_at = event.at;
      update.remote_status = event.status.id;
      const settings = inboundSettings(mapping);
      // A resolution the mapping reads (Jira's Won't Do, Duplicate…) says more than the status.
      const byResolution = event.resolution ? settings.map[`resolution:${event.resolution.id}`] : undefined;
      const action = byResolution && byResolution !== "none" ? byResolution : (settings.map[event.status.id] ?? "none");
      const statusName = `${settings.names[event.status.id] ?? event.status.name}${byResolution && byResolution !== "none" ? ` (${event.resolution!.name})` : ""}`;
      const statusMap = (JSON.parse(mapping.status_map) as { map: StatusMap }).map;
      const ownStatus = ticket.state ? statusMap[ticket.state as TicketState] : undefined;
      if (action === "none") done.push(`status ${statusName} leaves the findings as they are`);
      else if (ownStatus === event.status.id && STATE_OF[action] === ticket.state && !(byResolution && byResolution !== "none"))
        done.push(`status ${statusName} is the one Patchbay set`);
      else {
        const base = `${event.actor.name} moved ${label} to ${statusName} in ${tracker.name}`;
        const reason = `${base}${comment ? `: ${comment}` : ""}`;
        const changed = await applyAction(trx, findings, action, reason, actor, now);
        nextMemo.status = { author, at: event.at, reason: comment ? reason : base };
        update.state = STATE_OF[action];
        done.push(`${changed} finding${changed === 1 ? "" : "s"} ${DONE_WORDS[action]}`);
      }
    }
    update.remote_comment = JSON.stringify(nextMemo);
    await updateTicket(trx, ticket.id, { ...update, updated_at: stamp });
    await recordChange(trx, ticket.id, "inbound", `From ${tracker.name}, by ${event.actor.name}: ${done.join("; ") || "nothing to apply"}`, now);
    // Other trackers covering the same findings follow.
    await requestTicketSweep(trx, now);
    return { outcome: "processed" as const, detail: `${label}: ${done.join("; ") || "nothing to apply"}` };
  });
}

/** What the last inbound comment and status change were, to pair a transition with the comment that explains it. */
interface InboundMemo {
  comment?: { text: string; author: string; at: string };
  status?: { author: string; at: string; reason: string };
}

function readMemo(value: string | null): InboundMemo {
  if (!value) return {};
  try {
    const parsed = JSON.parse(value) as InboundMemo;
    return parsed && typeof parsed === "object" ? parsed : {};
  } catch {
    return {}; // an older plain-text comment: no author or time to pair it by
  }
}

/** Within a minute of each other. */
function nearby(a: string, b: string): boolean {
  return Math.abs(Date.parse(a) - Date.parse(b)) <= 60_000;
}

/** Adds the comment to the reason a transition gave the findings (those it still explains); how many. */
async function explainTransition(trx: Db, findings: Finding[], reason: string, comment: string): Promise<number> {
  const ids = findings.filter((f) => f.status_reason === reason).map((f) => f.id);
  if (!ids.length) return 0;
  await setStatusReason(trx, ids, `${reason}: ${comment}`);
  return ids.length;
}

async function findTicket(db: Db, integrationId: number, ref: TicketEvent["ticket"]): Promise<{ ticket: Ticket; mapping: TrackerMapping } | undefined> {
  if (!ref.id && !ref.key) return undefined;
  const row = await db
    .selectFrom("tickets")
    .innerJoin("tracker_mappings", "tracker_mappings.id", "tickets.mapping_id")
    .selectAll("tickets")
    .select(["tracker_mappings.inbound", "tracker_mappings.status_map", "tracker_mappings.integration_id", "tracker_mappings.name as mapping_name"])
    .where("tracker_mappings.integration_id", "=", integrationId)
    .where((eb) => eb.or([...(ref.id ? [eb("tickets.external_id", "=", ref.id)] : []), ...(ref.key ? [eb("tickets.external_key", "=", ref.key)] : [])]))
    .where("tickets.linked_at", "is not", null)
    .executeTakeFirst();
  if (!row) return undefined;
  const { inbound, status_map, integration_id, mapping_name, ...ticket } = row;
  return { ticket: ticket as Ticket, mapping: { inbound, status_map, integration_id, name: mapping_name } as TrackerMapping };
}

/** Moves the findings as the action says; returns how many changed. */
async function applyAction(trx: Db, findings: Finding[], action: Exclude<InboundAction, "none">, reason: string, actor: string, now: Date): Promise<number> {
  const stamp = now.toISOString();
  const from: FindingStatus[] =
    action === "open"
      ? ["resolved", "risk_accepted", "false_positive"]
      : action === "resolved"
        ? ["open", "in_remediation"]
        : ["open", "in_remediation", "resolved"];
  const moving = findings.filter((f) => from.includes(f.status));
  if (!moving.length) return 0;
  const expires = new Date(now.getTime() + ACCEPTANCE_DAYS * 86_400_000).toISOString();
  const note =
    action === "resolved" ? `${reason}; the next scan confirms the fix` : action === "risk_accepted" ? `${reason} (until ${expires.slice(0, 10)})` : reason;
  await moveFindings(
    trx,
    moving,
    // A person's decision in the tracker: a remediation policy rule leaves it as it is.
    { to: action, actor, reason, expiresAt: expires, trackerClosedAt: action === "resolved" ? stamp : null, note: note.slice(0, 2000), byPerson: true },
    now,
  );
  return moving.length;
}
