// Pushing one subject (a finding or a finding group) to one tracker mapping: render the
// content, create the ticket or update it only when the content changed, move it to the
// mapped status, comment on remediation events, and record every change in the changelog.
//
// No duplicate tickets, whatever crashes when: the ticket row (with the marker written on
// the ticket) is committed before the tracker is asked to create anything, and a push that
// finds a row still waiting for its ticket searches the tracker for the marker first. A
// lease on the row keeps two pushes of one subject from running at once; a later attempt of
// the job that crashed holding it takes it over at once.
import { loadConnected, setIntegrationStatus } from "../integrations/store.js";
import type { Services } from "../services.js";
import { createHash } from "node:crypto";
import { connectorContext } from "../connectors/context.js";
import {
  type FieldValue,
  type TicketContent,
  TicketMovedError,
  type TicketRef,
  type Tracker,
  type TrackerField,
  type TrackerSession,
} from "../connectors/types.js";
import type { Db, Integration, Job, Ticket, TrackerMapping } from "../db/schema.js";
import { ExternalError, RateLimitedError } from "../http.js";
import { connectionOf } from "../integrations/reused.js";
import { pacerFor } from "../integrations/pacing.js";
import { enqueue, integrationLane, jobKind } from "../jobs/queue.js";
import { type JobHandler, NotYet } from "../jobs/worker.js";
import type { Logger } from "../log.js";
import { redactText } from "../log.js";
import { publish } from "../jobs/events.js";
import { displayFieldValue, type FieldMapping, resolveFields, validateMapping } from "./fields.js";
import { loadSubject, plain, type SubjectView, type TicketState } from "./render.js";
import { applyTemplates } from "./templates.js";
import {
  claimTicket,
  findMapping,
  mappingData,
  type MappingData,
  recordChange,
  recordMove,
  releaseTicket,
  replaceTicketFindings,
  ticketFor,
  updateTicket,
} from "./store.js";
import { subjectFindingIds } from "./subjects.js";

export { recordMove };
const PUSH_MAX_ATTEMPTS = 6;

export interface PushPayload {
  mappingId: number;
  subjectKey: string;
  manual?: boolean;
}

export const PUSH_JOB = jobKind<PushPayload>("ticket.push", {
  label: "Ticket push",
  maxAttempts: PUSH_MAX_ATTEMPTS,
  dedupe: (p) => `${pushKeyPrefix(p.mappingId)}${p.subjectKey}`,
});

/** The start of the dedupe keys of a mapping's pushes: its pushes claimed together share it. */
function pushKeyPrefix(mappingId: number): string {
  return `ticket.push:${mappingId}:`;
}
/** Noted on a ticket row while a create's outcome is unknown (its answer may be lost). */
const CREATE_PENDING = "create-pending";
export const ANNOTATE_JOB = jobKind<{ remediationId: number }>("remediation.annotate", {
  label: "Pull request note",
  dedupe: (p) => `remediation.annotate:${p.remediationId}`,
});
const LOCK_MS = 120_000;
const METADATA_TTL_MS = 60_000;

export type PushAction = "created" | "relinked" | "updated" | "unchanged" | "skipped" | "busy";

/** A push that cannot succeed as things stand: recorded in the mapping's error table. */
export class PushFailure extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly trackerMessage?: string,
  ) {
    super(message);
    this.name = "PushFailure";
  }
}

/**
 * Pushes again the subjects of a mapping's unresolved errors (one, or all): the retried rows
 * leave the list, and a push that fails again records a new one. Gives how many subjects.
 */
export async function retryPushErrors(db: Db, mappingId: number, errorId: number | undefined, now: Date): Promise<number> {
  let query = db.selectFrom("push_errors").select(["id", "subject_key"]).where("mapping_id", "=", mappingId).where("resolved_at", "is", null);
  if (errorId !== undefined) query = query.where("id", "=", errorId);
  const rows = await query.execute();
  const subjects = [...new Set(rows.map((r) => r.subject_key))];
  await db.transaction().execute(async (trx) => {
    for (const subject of subjects) await enqueuePush(trx, mappingId, subject, now, true);
    if (rows.length)
      await trx
        .updateTable("push_errors")
        .set({ resolved_at: now.toISOString() })
        .where(
          "id",
          "in",
          rows.map((r) => r.id),
        )
        .execute();
  });
  return subjects.length;
}

export async function enqueuePush(db: Db, mappingId: number, subjectKey: string, now: Date, manual = false): Promise<number> {
  // Pushes share their tracker's lane: a tracker that hangs holds a few slots, never all.
  const mapping = await db.selectFrom("tracker_mappings").select("integration_id").where("id", "=", mappingId).executeTakeFirst();
  const lane = mapping ? integrationLane(mapping.integration_id) : undefined;
  return enqueue(db, PUSH_JOB, { mappingId, subjectKey, manual }, now, { lane });
}

/** The connection to a mapping's tracker, opened once and shared by the pushes of one job. */
export interface TrackerHandle {
  mapping: TrackerMapping;
  data: MappingData;
  integration: Integration;
  tracker: Tracker;
  session: TrackerSession;
}

export async function openTracker(deps: Services, mappingId: number, logger: Logger): Promise<TrackerHandle | undefined> {
  const mapping = await findMapping(deps.db, mappingId);
  if (!mapping) return undefined;
  const found = await loadConnected(deps.db, deps.catalogue, mapping.integration_id, "tracker");
  if (!found) return undefined;
  const { integration, connector } = found;
  const connection = await connectionOf(deps, connector, integration);
  const pacer = await pacerFor(deps.db, connector, integration, logger, deps.env.pace);
  const session = connector.tracker.session(connection, connectorContext({ ...deps.env, logger, pacer }));
  return { mapping, data: mappingData(mapping), integration, tracker: connector.tracker, session };
}

// The tracker's field list per mapping, reused for a minute: every push is checked against
// it without asking the tracker for its metadata before each ticket.
const metadataCache = new Map<number, { version: string; at: number; fields: TrackerField[] }>();

export async function checkMapping(handle: TrackerHandle, now: Date, fresh = false): Promise<void> {
  const version = handle.mapping.updated_at;
  const cached = metadataCache.get(handle.mapping.id);
  let fields = !fresh && cached && cached.version === version && now.getTime() - cached.at < METADATA_TTL_MS ? cached.fields : undefined;
  if (!fields) {
    fields = await handle.session.fields(handle.data.target);
    metadataCache.set(handle.mapping.id, { version, at: now.getTime(), fields });
  }
  const problems = validateMapping(handle.data.fields, fields);
  const messages = Object.values(problems);
  if (messages.length) {
    throw new PushFailure(`The mapping "${handle.mapping.name}" no longer matches the tracker's fields: ${messages.join(" ")}`);
  }
}

export function markerFor(mappingId: number, subjectKey: string): string {
  return `patchbay-${createHash("sha256").update(`${mappingId}|${subjectKey}`).digest("hex").slice(0, 16)}`;
}

/** A subject ready to push: its content rendered, and its ticket row (with the marker) held by this push. */
interface Prepared {
  subjectKey: string;
  started: Date;
  view: SubjectView;
  content: TicketContent;
  hash: string;
  ticket: Ticket;
  inserted: boolean;
}

/** Renders a subject and takes its ticket row; an action instead when there is nothing to push or another push holds it. */
async function preparePush(
  deps: Services,
  handle: TrackerHandle,
  subjectKey: string,
  opts: { manual: boolean; holder: string },
): Promise<Prepared | PushAction> {
  const { db } = deps;
  const started = deps.now();
  const existing = await ticketFor(db, handle.mapping.id, subjectKey);
  const findingIds = await subjectFindingIds(db, handle.mapping.id, subjectKey, existing?.id);
  const loaded = await loadSubject(db, subjectKey, findingIds, deps.baseUrl);
  if (!loaded) return "skipped";
  // The mapping's own title and description, where it has templates (checked when saved).
  const view = applyTemplates(loaded, handle.data.templates, deps.baseUrl, plain);
  // Automatic pushes do not open tickets for work that is already over.
  if (!existing?.linked_at && !opts.manual && (view.state === "done" || view.state === "accepted")) return "skipped";

  await checkMapping(handle, started);
  const marker = existing?.marker ?? markerFor(handle.mapping.id, subjectKey);
  const content: TicketContent = { fields: resolveFields(handle.data.fields, view), marker };
  const hash = createHash("sha256").update(JSON.stringify(content)).digest("hex");

  const lock = await acquire(db, handle.mapping.id, subjectKey, marker, opts.holder, started);
  if (!lock) return "busy";
  return { subjectKey, started, view, content, hash, ticket: lock.ticket, inserted: lock.inserted };
}

/** Pushes one subject; throws PushFailure or ExternalError when the tracker refuses. */
export async function pushSubject(deps: Services, handle: TrackerHandle, subjectKey: string, opts: { manual: boolean; holder: string }): Promise<PushAction> {
  const prepared = await preparePush(deps, handle, subjectKey, opts);
  if (typeof prepared === "string") return prepared;
  try {
    return await completePush(deps, handle, prepared);
  } finally {
    await releaseTicket(deps.db, handle.mapping.id, subjectKey);
  }
}

export type PushOutcome = { subjectKey: string; action: PushAction } | { subjectKey: string; error: unknown };

/**
 * Pushes several subjects of one mapping. Tickets new to the tracker are made together, by its
 * bulk create where it has one (Jira: 50 a request): every row and marker is committed, and noted
 * as a create whose answer may be lost, before the request goes. The tracker's refusal of one
 * issue is that subject's error alone; the rest are made. Every other push goes one by one.
 * Each subject's row is held for the job that owns it (`holderOf`): when the process dies, that
 * job's next attempt takes it over at once, whichever job had taken it along.
 */
export async function pushSubjects(
  deps: Services,
  handle: TrackerHandle,
  subjectKeys: string[],
  opts: { manual: boolean; holderOf: (subjectKey: string) => string },
): Promise<PushOutcome[]> {
  const out: PushOutcome[] = [];
  const fresh: Prepared[] = [];
  const limit = handle.session.createMany ? (handle.session.bulkCreateLimit ?? 1) : 1;
  for (const subjectKey of subjectKeys) {
    let prepared: Prepared | PushAction;
    try {
      prepared = await preparePush(deps, handle, subjectKey, { manual: opts.manual, holder: opts.holderOf(subjectKey) });
    } catch (error) {
      out.push({ subjectKey, error });
      continue;
    }
    if (typeof prepared === "string") out.push({ subjectKey, action: prepared });
    else if (limit > 1 && neverSent(prepared)) fresh.push(prepared);
    else out.push(await completeHeld(deps, handle, prepared));
  }
  for (let i = 0; i < fresh.length; i += limit) {
    const chunk = fresh.slice(i, i + limit);
    if (chunk.length === 1) out.push(await completeHeld(deps, handle, chunk[0]!));
    else out.push(...(await createTogether(deps, handle, chunk)));
  }
  return out;
}

/** Whether the row notes a create whose answer may have been lost. */
function createPending(ticket: Ticket): boolean {
  return (JSON.parse(ticket.notes || "[]") as string[]).includes(CREATE_PENDING);
}

/** The row's notes with a create noted as under way (its answer may be lost), or that mark cleared. */
function withCreatePending(ticket: Ticket, pending: boolean): string {
  const notes = (JSON.parse(ticket.notes || "[]") as string[]).filter((n) => n !== CREATE_PENDING);
  return JSON.stringify(pending ? [...notes, CREATE_PENDING] : notes);
}

/** No ticket yet, and no create whose answer may have been lost: nothing in the tracker can carry this marker. */
function neverSent(p: Prepared): boolean {
  return !p.ticket.linked_at && !createPending(p.ticket);
}

/** A held push carried to its end, its row released whatever happens. */
async function completeHeld(deps: Services, handle: TrackerHandle, p: Prepared, created?: TicketRef): Promise<PushOutcome> {
  try {
    return { subjectKey: p.subjectKey, action: await completePush(deps, handle, p, created) };
  } catch (error) {
    return { subjectKey: p.subjectKey, error };
  } finally {
    await releaseTicket(deps.db, handle.mapping.id, p.subjectKey);
  }
}

/** One bulk create for subjects that have never been sent, then each carried on as a single push would be. */
async function createTogether(deps: Services, handle: TrackerHandle, chunk: Prepared[]): Promise<PushOutcome[]> {
  const { db } = deps;
  const stamp = deps.now().toISOString();
  await db.transaction().execute(async (trx) => {
    for (const p of chunk) await updateTicket(trx, p.ticket.id, { notes: withCreatePending(p.ticket, true), updated_at: stamp });
  });
  const clearPending = (p: Prepared) => updateTicket(db, p.ticket.id, { notes: withCreatePending(p.ticket, false) });
  const release = (p: Prepared) => releaseTicket(db, handle.mapping.id, p.subjectKey);
  let results: (TicketRef | ExternalError)[];
  try {
    results = await handle.session.createMany!(
      handle.data.target,
      chunk.map((p) => p.content),
    );
  } catch (error) {
    // Refused outright, nothing was made; otherwise any may exist, and the next attempt looks for each by its marker.
    for (const p of chunk) {
      if (nothingCreated(error)) await clearPending(p);
      await release(p);
    }
    return chunk.map((p) => ({ subjectKey: p.subjectKey, error }));
  }
  const out: PushOutcome[] = [];
  for (const [i, p] of chunk.entries()) {
    const result = results[i]!;
    if (result instanceof Error) {
      await clearPending(p);
      await release(p);
      out.push({ subjectKey: p.subjectKey, error: result });
    } else out.push(await completeHeld(deps, handle, p, result));
  }
  return out;
}

/** A create the tracker answered with a refusal (or Patchbay never sent): no ticket was made. */
function nothingCreated(err: unknown): boolean {
  if (err instanceof PushFailure) return true;
  if (!(err instanceof ExternalError)) return false;
  if (err.kind === "invalid_input") return true;
  return err.status !== undefined && err.status >= 400 && err.status < 500 && err.status !== 408;
}

/** The rest of a push once its row is held: create (or find, after a lost answer) the ticket, update it, move it, comment. */
async function completePush(deps: Services, handle: TrackerHandle, prepared: Prepared, created?: TicketRef): Promise<PushAction> {
  const { db } = deps;
  const { started, view, content, hash } = prepared;
  const marker = prepared.ticket.marker;
  let ticket = prepared.ticket;
  let action: PushAction = "unchanged";
  let ref: TicketRef | undefined = ticket.linked_at ? { id: ticket.external_id!, key: ticket.external_key!, url: ticket.url! } : undefined;
  // A ticket moved in the tracker (a transferred issue): recorded, then the change is made there.
  const onTicket = async <T>(change: (r: TicketRef) => Promise<T>): Promise<T> => {
    try {
      return await change(ref!);
    } catch (err) {
      if (!(err instanceof TicketMovedError)) throw err;
      await recordMove(db, ticket.id, ref!, err, deps.now());
      ref = err.to;
      return change(err.to);
    }
  };
  if (!ref) {
    // A row left by an earlier attempt whose create may have succeeded (its answer lost) may
    // have a ticket the tracker's search does not show yet: wait out the lag before looking.
    if (!created && !prepared.inserted && createPending(ticket)) {
      const wait = Date.parse(ticket.updated_at) + (handle.session.searchLagMs ?? 0) - deps.now().getTime();
      if (wait > 0) {
        throw new RateLimitedError(
          handle.integration.name,
          `An earlier attempt to create this ticket lost ${handle.integration.name}'s answer, and its search can take a while to show new tickets: Patchbay looks for it in ${Math.ceil(wait / 1000)} s before creating anything.`,
          Math.ceil(wait / 1000),
        );
      }
    }
    // Made by a bulk create just now; a row this push inserted has never been sent; else look first.
    const found = created || prepared.inserted ? undefined : await handle.session.find(handle.data.target, marker);
    if (created) ref = created;
    else if (!found) {
      await updateTicket(db, ticket.id, { notes: withCreatePending(ticket, true), updated_at: deps.now().toISOString() });
      try {
        ref = await handle.session.create(handle.data.target, content);
      } catch (err) {
        // Refused outright: nothing was created, so the next attempt need not wait for the search.
        if (nothingCreated(err)) await updateTicket(db, ticket.id, { notes: withCreatePending(ticket, false) });
        throw err;
      }
    } else ref = found;
    action = found ? "relinked" : "created";
    if (found) await handle.session.update(handle.data.target, found, content);
    const stamp = deps.now().toISOString();
    await updateTicket(db, ticket.id, {
      external_id: ref.id,
      external_key: ref.key,
      url: ref.url,
      linked_at: stamp,
      state: "open",
      content_hash: hash,
      content: summary(handle.data.fields, content),
      notes: JSON.stringify(noteKeys(view)),
      updated_at: stamp,
    });
    await recordChange(
      db,
      ticket.id,
      "linked",
      found ? `Linked to ${ref.key}, found in the tracker by its marker after an interrupted push` : `Created ${ref.key} in ${handle.data.target.project.name}`,
      deps.now(),
    );
    ticket = { ...ticket, state: "open", content_hash: hash, notes: JSON.stringify(noteKeys(view)) };
  } else if (ticket.content_hash !== hash && ticket.origin === "created") {
    const outcome = await onTicket((r) => handle.session.update(handle.data.target, r, content));
    // The changelog says what the tracker took: fields it would not take keep their old values.
    const applied = appliedSummary(handle.data.fields, content, ticket.content, outcome?.ignored ?? []);
    const changed = diff(ticket.content, applied);
    const skipped = (outcome?.ignored ?? []).map((id) => handle.data.fields.find((m) => m.fieldId === id)?.name ?? id);
    await updateTicket(db, ticket.id, { content_hash: hash, content: applied, updated_at: deps.now().toISOString() });
    const left = skipped.length
      ? `${skipped.join(", ")} left as ${skipped.length === 1 ? "it was" : "they were"} (${outcome!.reason ?? "the tracker would not take them"})`
      : "";
    const detail = changed.length ? `Updated ${changed.join("; ")}${left ? `; ${left}` : ""}` : left ? `Not updated: ${left}` : "Updated the content";
    await recordChange(db, ticket.id, "updated", detail, deps.now());
    action = "updated";
  }

  const statusId = handle.data.statusMap[view.state];
  // Closed in the tracker, yet a scan still reports it: reopen with a comment, or (as the
  // mapping says) leave the ticket closed and only flag the finding in Patchbay.
  const stillDetected = ticket.state === "done" && view.state === "open" ? view.findings.filter((f) => f.stillDetected) : [];
  const keepClosed = stillDetected.length > 0 && handle.data.inbound.stillDetected === "flag";
  // A linked ticket moves with its findings only where the mapping allows it.
  const mayMove = ticket.origin === "created" || handle.data.inbound.linkedTickets === "comment_and_move";
  if (ticket.state !== view.state && !keepClosed && mayMove) {
    if (statusId) {
      const resolutionId = handle.data.resolutionMap?.[view.state];
      const moved = await onTicket((r) =>
        handle.session.transition(handle.data.target, r, statusId, {
          resolutionId,
          reason: view.state === "done" ? "resolved" : view.state === "accepted" ? "accepted" : "reopened",
        }),
      );
      const name = handle.data.statusNames[statusId] ?? statusId;
      if (moved === "moved") await recordChange(db, ticket.id, "transitioned", `Status → ${name} (${stateReason(view.state)})`, deps.now());
      if (action === "unchanged") action = "updated";
    }
    if (stillDetected.length) {
      const list = stillDetected.map((f) => `${f.cve} in ${f.package} ${f.installedVersion} (${f.assetName})`).join(", ");
      await onTicket((r) =>
        handle.session.comment(handle.data.target, r, [
          { type: "paragraph", spans: [{ text: `Reopened by Patchbay: this ticket was closed, but the latest scan still detects ${list}.` }] },
        ]),
      );
      await recordChange(db, ticket.id, "commented", `Commented: reopened, still detected (${stillDetected.length})`, deps.now());
    }
    await updateTicket(db, ticket.id, { state: view.state });
  }

  const posted = new Set(JSON.parse(ticket.notes) as string[]);
  const openedNow: number[] = [];
  for (const r of view.remediations) {
    const key = `pr:${r.id}:${r.state}`;
    if (posted.has(key)) continue;
    const verb = r.state === "open" ? "opened" : r.state === "merged" ? "merged" : "closed without merging";
    const tail = r.state === "merged" ? " The fix is recorded; the next scan confirms it." : r.state === "open" ? "" : " The finding stays open.";
    await onTicket((r2) =>
      handle.session.comment(handle.data.target, r2, [
        {
          type: "paragraph",
          spans: [{ text: `Remediation pull request ${verb}: ` }, { text: `${r.repository}#${r.number} ${r.title}`, href: r.url }, { text: `.${tail}` }],
        },
      ]),
    );
    posted.add(key);
    if (r.state === "open") openedNow.push(r.id);
    await updateTicket(db, ticket.id, { notes: JSON.stringify([...posted]) });
    await recordChange(db, ticket.id, "commented", `Commented: pull request ${r.repository}#${r.number} ${verb}`, deps.now());
    if (action === "unchanged") action = "updated";
  }

  await settle(db, ticket, view, started, deps.now());
  // The pull requests that fix these findings name the ticket in their descriptions.
  const annotate = action === "created" || action === "relinked" ? view.remediations.filter((r) => r.state === "open").map((r) => r.id) : openedNow;
  if (annotate.length) {
    // In the source control integration's lane: a hung GitHub holds its own slots only.
    const owners = await db.selectFrom("remediations").select(["id", "integration_id"]).where("id", "in", annotate).execute();
    for (const { id, integration_id } of owners) {
      await enqueue(db, ANNOTATE_JOB, { remediationId: id }, deps.now(), { lane: integrationLane(integration_id) });
    }
  }
  return action;
}

/** Takes the subject's ticket row for this push, creating it (with its marker) if needed. */
function acquire(db: Db, mappingId: number, subjectKey: string, marker: string, holder: string, now: Date) {
  return claimTicket(db, mappingId, subjectKey, marker, holder, new Date(now.getTime() + LOCK_MS), now);
}

/** After a successful push: the findings the ticket covers, and its errors marked resolved. */
async function settle(db: Db, ticket: Ticket, view: SubjectView, started: Date, now: Date): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await replaceTicketFindings(
      trx,
      ticket.id,
      view.findings.map((f) => f.id),
    );
    await updateTicket(trx, ticket.id, { synced_at: started.toISOString(), updated_at: now.toISOString() });
    await trx
      .updateTable("push_errors")
      .set({ resolved_at: now.toISOString() })
      .where("mapping_id", "=", ticket.mapping_id)
      .where("subject_key", "=", ticket.subject_key)
      .where("resolved_at", "is", null)
      .execute();
  });
}

function noteKeys(view: SubjectView): string[] {
  // A new ticket's description already lists its pull requests: no comment for those.
  return view.remediations.map((r) => `pr:${r.id}:${r.state}`);
}

export function summary(fields: FieldMapping[], content: TicketContent): string {
  const out: Record<string, string> = {};
  for (const m of fields) {
    const value: FieldValue | undefined = content.fields[m.fieldId];
    if (!value) continue;
    out[m.name] =
      value.kind === "document"
        ? createHash("sha256").update(JSON.stringify(value.blocks)).digest("hex").slice(0, 12)
        : displayFieldValue(value, m.choiceNames);
  }
  return JSON.stringify(out);
}

/** The content summary as the tracker has it after an update that left some fields out. */
function appliedSummary(fields: FieldMapping[], content: TicketContent, before: string | null, ignored: string[]): string {
  const after = JSON.parse(summary(fields, content)) as Record<string, string>;
  if (!ignored.length) return JSON.stringify(after);
  const old = before ? (JSON.parse(before) as Record<string, string>) : {};
  for (const m of fields) {
    if (!ignored.includes(m.fieldId)) continue;
    if (m.name in old) after[m.name] = old[m.name]!;
    else delete after[m.name];
  }
  return JSON.stringify(after);
}

export function diff(before: string | null, after: string): string[] {
  const a = before ? (JSON.parse(before) as Record<string, string>) : {};
  const b = JSON.parse(after) as Record<string, string>;
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return names
    .filter((n) => a[n] !== b[n])
    .map((n) => (/^[0-9a-f]{12}$/.test(b[n] ?? "") || /^[0-9a-f]{12}$/.test(a[n] ?? "") ? n : `${n}: ${a[n] ?? "(empty)"} → ${b[n] ?? "(empty)"}`));
}

function stateReason(state: TicketState): string {
  return { open: "findings open again", in_progress: "remediation pull request open", done: "findings resolved", accepted: "risk accepted" }[state];
}

/** Records a push that failed for good: an error row, and a notification event. */
export async function recordPushError(db: Db, mappingId: number, subjectKey: string, err: unknown, now: Date): Promise<void> {
  const subjectFinding = /^finding:(\d+)$/.exec(subjectKey);
  const ticket = await ticketFor(db, mappingId, subjectKey);
  const ids = await subjectFindingIds(db, mappingId, subjectKey, ticket?.id);
  const view = await loadSubject(db, subjectKey, ids, "");
  const label = view?.label ?? subjectKey;
  const reason = redactText(err instanceof Error ? err.message : String(err));
  const status = err instanceof ExternalError ? err.status : err instanceof PushFailure ? err.status : undefined;
  const trackerMessage = err instanceof ExternalError ? err.remoteMessage : err instanceof PushFailure ? err.trackerMessage : undefined;
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto("push_errors")
      .values({
        mapping_id: mappingId,
        subject_key: subjectKey,
        subject_label: label,
        finding_id: subjectFinding ? Number(subjectFinding[1]) : (ids[0] ?? null),
        at: now.toISOString(),
        reason,
        http_status: status ?? null,
        tracker_message: trackerMessage ? redactText(trackerMessage) : null,
        resolved_at: null,
      })
      .execute();
    const mapping = await trx.selectFrom("tracker_mappings").select("integration_id").where("id", "=", mappingId).executeTakeFirst();
    await publish(
      trx,
      {
        type: "ticket.push_failed",
        mappingId,
        integrationId: mapping?.integration_id ?? 0,
        subjectKey,
        subjectLabel: label,
        reason,
        httpStatus: status ?? null,
        trackerMessage: trackerMessage ? redactText(trackerMessage) : null,
      },
      now,
    );
  });
}

/** Errors a retry cannot fix by waiting: recorded at once rather than retried. */
export function isPermanent(err: unknown): boolean {
  if (err instanceof PushFailure) return true;
  if (err instanceof ExternalError)
    return !(err.kind === "rate_limited" || err.kind === "unreachable" || (err.kind === "remote" && (err.status ?? 500) >= 500));
  return false;
}

/**
 * Job `ticket.push`: one subject. Where the tracker creates in bulk and this subject has never
 * been sent, more due pushes to the same mapping that have never been sent either (a sweep's
 * after an import) are claimed with it and their tickets made in the same requests; each job
 * still ends, or is retried, on its own subject's outcome.
 */
export function pushHandler(deps: Services): JobHandler<PushPayload> {
  return async ({ job, payload, logger, companions }) => {
    const { mappingId, subjectKey, manual } = payload;
    let outcomes: PushOutcome[];
    let together: { job: Job; subjectKey: string }[] = [];
    const holderOf = (key: string) => `job:${together.find((t) => t.subjectKey === key)?.job.id ?? job.id}`;
    try {
      const handle = await openTracker(deps, mappingId, logger);
      if (!handle) return;
      const limit = handle.session.createMany ? (handle.session.bulkCreateLimit ?? 1) : 1;
      if (limit > 1 && (await unsent(deps.db, mappingId, [subjectKey])).length === 1) {
        const claimed = await companions.claim(pushKeyPrefix(mappingId), limit - 1, async (candidates) => {
          const alike = candidates
            .map((c) => ({ job: c, payload: JSON.parse(c.payload) as PushPayload }))
            .filter((c) => c.payload.mappingId === mappingId && c.payload.manual === manual);
          const fresh = new Set(
            await unsent(
              deps.db,
              mappingId,
              alike.map((c) => c.payload.subjectKey),
            ),
          );
          return alike.filter((c) => fresh.has(c.payload.subjectKey)).map((c) => c.job);
        });
        together = claimed.map((c) => ({ job: c, subjectKey: (JSON.parse(c.payload) as PushPayload).subjectKey }));
      }
      outcomes = together.length
        ? await pushSubjects(deps, handle, [subjectKey, ...together.map((t) => t.subjectKey)], { manual: manual === true, holderOf })
        : [
            await pushSubject(deps, handle, subjectKey, { manual: manual === true, holder: `job:${job.id}` }).then(
              (action) => ({ subjectKey, action }),
              (error: unknown) => ({ subjectKey, error }),
            ),
          ];
    } catch (error) {
      outcomes = [{ subjectKey, error }];
    }
    const bySubject = new Map(outcomes.map((o) => [o.subjectKey, o]));
    for (const t of together) {
      const retry = await settlePush(
        deps,
        t.job,
        mappingId,
        bySubject.get(t.subjectKey) ?? { subjectKey: t.subjectKey, error: new Error("Not pushed.") },
        logger,
      );
      await companions.settle(t.job, retry && { error: retry });
    }
    const retry = await settlePush(deps, job, mappingId, bySubject.get(subjectKey)!, logger);
    if (retry) throw retry;
  };
}

/** The subjects (of these) whose tickets have never been sent to the mapping's tracker. */
async function unsent(db: Db, mappingId: number, subjectKeys: string[]): Promise<string[]> {
  if (subjectKeys.length === 0) return [];
  const rows = await db.selectFrom("tickets").selectAll().where("mapping_id", "=", mappingId).where("subject_key", "in", subjectKeys).execute();
  const sent = new Set(rows.filter((t) => t.linked_at || createPending(t)).map((t) => t.subject_key));
  return subjectKeys.filter((k) => !sent.has(k));
}

/**
 * What one push job's outcome means for the job: undefined when it is done (pushed, or failed
 * for good and recorded in the mapping's error table), or the error to retry it with.
 */
async function settlePush(deps: Services, job: Job, mappingId: number, outcome: PushOutcome, logger: Logger): Promise<Error | undefined> {
  const { subjectKey } = outcome;
  if ("action" in outcome) {
    if (outcome.action === "busy") {
      const held = (await ticketFor(deps.db, mappingId, subjectKey))?.lock_until;
      const wait = held ? Math.min(LOCK_MS, Math.max(1_000, Date.parse(held) - deps.now().getTime())) : 1_000;
      return new NotYet("Another push of this subject is running; this one runs when it has ended.", wait);
    }
    logger.info("ticket pushed", { jobId: job.id, mappingId, subjectKey, action: outcome.action });
    return undefined;
  }
  const err = outcome.error;
  if (isPermanent(err) || job.attempts >= job.max_attempts) {
    await recordPushError(deps.db, mappingId, subjectKey, err, deps.now());
    logger.warn("ticket push failed", { jobId: job.id, mappingId, subjectKey, error: err });
    if (err instanceof ExternalError && err.kind === "auth") await markIntegrationFailed(deps.db, mappingId, err, deps.now());
    return undefined;
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** The tracker rejected the credentials: its card shows Error until they are fixed. */
export async function markIntegrationFailed(db: Db, mappingId: number, err: ExternalError, now: Date): Promise<void> {
  const mapping = await findMapping(db, mappingId);
  if (!mapping) return;
  const integration = await db.selectFrom("integrations").select(["id", "kind", "status"]).where("id", "=", mapping.integration_id).executeTakeFirst();
  if (!integration) return;
  await setIntegrationStatus(
    db,
    integration.id,
    "error",
    `Pushing tickets failed: ${redactText(err.message)} Update the credentials in the integration's Configuration tab.`,
    now,
  );
  if (integration.status !== "error")
    await publish(db, { type: "integration.failed", integrationId: integration.id, kind: integration.kind, reason: redactText(err.message) }, now);
}
