// Tracker mappings, assignments, tickets, their changelog and push errors: plain queries
// the routes and jobs share.
import { fromJson, inList, jsonArrayFrom } from "../db/dialect.js";
import type { Beside, PageBeside } from "../findings/query.js";
import { newestFindingId } from "../findings/store.js";
import type { TicketRef, TicketTarget } from "../connectors/types.js";
import type { ExpressionBuilder, RawBuilder, SqlBool, Updateable } from "kysely";
import type { Database, Db, GroupBy, PushError, PushMode, Severity, Ticket, TicketTable, TrackerAssignment, TrackerMapping } from "../db/schema.js";
import type { FieldMapping } from "./fields.js";
import { type InboundSettings, inboundSettings } from "./inbound.js";
import type { Templates } from "./templates.js";
import type { TicketState } from "./render.js";

export const PUSH_MODES: Record<PushMode, { label: string; help: string }> = {
  explicit: { label: "Explicitly Publish Changes", help: "No automatic pushes: findings go to the tracker only with Push to Integrators." },
  link_new: {
    label: "Automatically Link New Findings",
    help: "New findings (or groups) are pushed when they are created; later changes wait for a manual push.",
  },
  update_existing: {
    label: "Automatically Update Existing Link",
    help: "Tickets already linked are updated when their findings change; nothing new is created automatically.",
  },
  link_and_update: {
    label: "Automatically Link New and Update Existing Link",
    help: "New findings are pushed, and linked tickets are updated as their findings change.",
  },
};

export const GROUP_BY: Record<GroupBy, string> = {
  finding: "One ticket per finding",
  package: "Finding groups by package",
  cve: "Finding groups by CVE",
  asset: "Finding groups by asset",
  owner: "Finding groups by owning team and package (ownership routing)",
};

export const linksNew = (mode: PushMode) => mode === "link_new" || mode === "link_and_update";
export const updatesLinks = (mode: PushMode) => mode === "update_existing" || mode === "link_and_update";

export type StatusMap = Partial<Record<TicketState, string>>;

export interface MappingData {
  name: string;
  target: TicketTarget;
  fields: FieldMapping[];
  statusMap: StatusMap;
  /** Names of the tracker statuses in the map, for display. */
  statusNames: Record<string, string>;
  /** The resolution a ticket is closed with, per Patchbay status (Jira), where the mapping names one. */
  resolutionMap?: StatusMap;
  /** Two-way sync: what a tracker status means for the findings. */
  inbound: InboundSettings;
  /** The mapping's own title and description templates. */
  templates: Templates;
}

export function mappingData(row: TrackerMapping): MappingData {
  const status = JSON.parse(row.status_map) as { map: StatusMap; names: Record<string, string>; resolutions?: StatusMap };
  return {
    name: row.name,
    target: JSON.parse(row.target) as TicketTarget,
    fields: JSON.parse(row.fields) as FieldMapping[],
    statusMap: status.map,
    statusNames: status.names,
    resolutionMap: status.resolutions ?? {},
    inbound: inboundSettings(row),
    templates: { title: "", description: "", ...(JSON.parse(row.templates || "{}") as Partial<Templates>) },
  };
}

export function findMapping(db: Db, id: number): Promise<TrackerMapping | undefined> {
  return db.selectFrom("tracker_mappings").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function saveMapping(db: Db, integrationId: number, id: number | undefined, data: MappingData, now: Date): Promise<number> {
  const stamp = now.toISOString();
  const values = {
    name: data.name,
    target: JSON.stringify(data.target),
    fields: JSON.stringify(data.fields),
    status_map: JSON.stringify({ map: data.statusMap, names: data.statusNames, resolutions: data.resolutionMap ?? {} }),
    inbound: JSON.stringify(data.inbound),
    templates: JSON.stringify(data.templates),
    updated_at: stamp,
  };
  if (id !== undefined) {
    await db.updateTable("tracker_mappings").set(values).where("id", "=", id).execute();
    return id;
  }
  const row = await db
    .insertInto("tracker_mappings")
    .values({ integration_id: integrationId, created_at: stamp, ...values })
    .returning("id")
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface MappingSummary extends TrackerMapping {
  integration_name: string;
  integration_kind: string;
  assignments: number;
  tickets: number;
  errors: number;
}

/** Every mapping with its counts: the Issue Tracker Mappings & Assignments page. */
export async function listMappings(db: Db, integrationId?: number): Promise<MappingSummary[]> {
  let query = db
    .selectFrom("tracker_mappings")
    .innerJoin("integrations", "integrations.id", "tracker_mappings.integration_id")
    .selectAll("tracker_mappings")
    .select(["integrations.name as integration_name", "integrations.kind as integration_kind"])
    .select((eb) => [
      eb
        .selectFrom("tracker_assignments")
        .select(eb.fn.countAll<number>().as("n"))
        .whereRef("tracker_assignments.mapping_id", "=", "tracker_mappings.id")
        .as("assignments"),
      eb
        .selectFrom("tickets")
        .select(eb.fn.countAll<number>().as("n"))
        .whereRef("tickets.mapping_id", "=", "tracker_mappings.id")
        .where("tickets.linked_at", "is not", null)
        .as("tickets"),
      eb
        .selectFrom("push_errors")
        .select(eb.fn.countAll<number>().as("n"))
        .whereRef("push_errors.mapping_id", "=", "tracker_mappings.id")
        .where("push_errors.resolved_at", "is", null)
        .as("errors"),
    ])
    .orderBy("integrations.name")
    .orderBy("tracker_mappings.name");
  if (integrationId !== undefined) query = query.where("tracker_mappings.integration_id", "=", integrationId);
  return (await query.execute()).map((r) => ({
    ...r,
    assignments: Number(r.assignments ?? 0),
    tickets: Number(r.tickets ?? 0),
    errors: Number(r.errors ?? 0),
  }));
}

/** Whether any tracker mapping has an assignment: findings can be pushed at all. */
/**
 * Whether any tracker assignment exists (Push to Integrators has somewhere to go), as a column
 * read beside a page's overview: true or false on PostgreSQL, 1 or 0 on SQLite.
 */
export function assignmentsExist(): PageBeside<SqlBool> {
  return (eb) => eb.exists(eb.selectFrom("tracker_assignments").select("tracker_assignments.id")).as("beside");
}

export function listAssignments(db: Db, mappingId: number): Promise<TrackerAssignment[]> {
  return db.selectFrom("tracker_assignments").selectAll().where("mapping_id", "=", mappingId).orderBy("id").execute();
}

export interface AssignmentData {
  repositoryIds: number[] | null;
  minSeverity: Severity;
  groupBy: GroupBy;
  pushMode: PushMode;
}

export async function saveAssignment(db: Db, mappingId: number, id: number | undefined, data: AssignmentData, now: Date): Promise<number> {
  const stamp = now.toISOString();
  const values = {
    repository_ids: data.repositoryIds ? JSON.stringify(data.repositoryIds) : null,
    min_severity: data.minSeverity,
    group_by: data.groupBy,
    push_mode: data.pushMode,
    updated_at: stamp,
  };
  if (id !== undefined) {
    await db.updateTable("tracker_assignments").set(values).where("id", "=", id).where("mapping_id", "=", mappingId).execute();
    return id;
  }
  // Findings that exist now are not "new" to this assignment: automatic linking starts after them.
  const row = await db
    .insertInto("tracker_assignments")
    .values({ mapping_id: mappingId, linked_through: await newestFindingId(db), created_at: stamp, ...values })
    .returning("id")
    .executeTakeFirstOrThrow();
  return row.id;
}

/** The last finding an assignment has considered (automatic modes link only findings after it). */
export async function assignmentLinkedThrough(db: Db, mappingId: number, id: number): Promise<number | undefined> {
  const row = await db.selectFrom("tracker_assignments").select("linked_through").where("id", "=", id).where("mapping_id", "=", mappingId).executeTakeFirst();
  return row?.linked_through;
}

export async function deleteAssignment(db: Db, mappingId: number, id: number): Promise<void> {
  await db.deleteFrom("tracker_assignments").where("id", "=", id).where("mapping_id", "=", mappingId).execute();
}

/** Removes a mapping; its assignments, tickets' links and errors go with it (foreign keys). */
export async function deleteMapping(db: Db, id: number): Promise<void> {
  await db.deleteFrom("tracker_mappings").where("id", "=", id).execute();
}

/** How many tickets a mapping has created or linked. */
export async function countTickets(db: Db, mappingId: number): Promise<number> {
  const row = await db
    .selectFrom("tickets")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("mapping_id", "=", mappingId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Each tracker integration's unresolved push errors: its name, the total, and the mappings that have some. */
export async function pushErrorTotals(db: Db): Promise<Map<number, { name: string; total: number; mappingIds: number[] }>> {
  const rows = await db
    .selectFrom("push_errors")
    .innerJoin("tracker_mappings", "tracker_mappings.id", "push_errors.mapping_id")
    .innerJoin("integrations", "integrations.id", "tracker_mappings.integration_id")
    .select(["tracker_mappings.integration_id", "integrations.name", "push_errors.mapping_id", (eb) => eb.fn.countAll<number>().as("n")])
    .where("push_errors.resolved_at", "is", null)
    .groupBy(["tracker_mappings.integration_id", "integrations.name", "push_errors.mapping_id"])
    .execute();
  const out = new Map<number, { name: string; total: number; mappingIds: number[] }>();
  for (const r of rows) {
    const entry = out.get(r.integration_id) ?? { name: r.name, total: 0, mappingIds: [] };
    entry.total += Number(r.n);
    entry.mappingIds.push(r.mapping_id);
    out.set(r.integration_id, entry);
  }
  return out;
}

/** A mapping's push errors, newest first: the unresolved ones, or all. */
export function listPushErrors(db: Db, mappingId: number, opts: { resolvedToo: boolean; limit: number }): Promise<PushError[]> {
  let query = db.selectFrom("push_errors").selectAll().where("mapping_id", "=", mappingId).orderBy("id", "desc").limit(opts.limit);
  if (!opts.resolvedToo) query = query.where("resolved_at", "is", null);
  return query.execute();
}

/** Records a ticket's new state, remote fields, notes or content. */
export async function updateTicket(db: Db, id: number, set: Updateable<TicketTable>): Promise<void> {
  await db.updateTable("tickets").set(set).where("id", "=", id).execute();
}

export function ticketFor(db: Db, mappingId: number, subjectKey: string): Promise<Ticket | undefined> {
  return db.selectFrom("tickets").selectAll().where("mapping_id", "=", mappingId).where("subject_key", "=", subjectKey).executeTakeFirst();
}

export async function recordChange(db: Db, ticketId: number, action: string, detail: string, now: Date): Promise<void> {
  await db.insertInto("ticket_changes").values({ ticket_id: ticketId, at: now.toISOString(), action, detail }).execute();
}

export interface TicketView {
  id: number;
  findingId: number;
  kind: string;
  integrationName: string;
  mappingName: string;
  key: string;
  url: string;
  linkedAt: string;
  changes: { at: string; action: string; detail: string }[];
}

/**
 * Each finding's linked tickets with their changelogs, as a column of a query over findings
 * (a page of them lists these beside each row: no statement of its own); read with ticketViews.
 */
export function linkedTickets(db: Db): Beside<LinkedTicket[]> {
  return (eb) => linkedTicketsQuery(db, eb).as("beside");
}

/** The linked tickets of the outer query's finding ("findings.id"), as a JSON array. */
export function linkedTicketsQuery(db: Db, eb: ExpressionBuilder<Database, "findings">): RawBuilder<LinkedTicket[]> {
  return jsonArrayFrom(
    db,
    eb
      .selectFrom("ticket_findings")
      .innerJoin("tickets", "tickets.id", "ticket_findings.ticket_id")
      .innerJoin("tracker_mappings", "tracker_mappings.id", "tickets.mapping_id")
      .innerJoin("integrations", "integrations.id", "tracker_mappings.integration_id")
      .select([
        "tickets.id",
        "tickets.external_key",
        "tickets.url",
        "tickets.linked_at",
        "integrations.kind",
        "integrations.name as integration_name",
        "tracker_mappings.name as mapping_name",
      ])
      .select((inner) =>
        jsonArrayFrom(
          db,
          inner
            .selectFrom("ticket_changes")
            .select(["ticket_changes.at", "ticket_changes.action", "ticket_changes.detail"])
            .whereRef("ticket_changes.ticket_id", "=", "tickets.id")
            .orderBy("ticket_changes.id"),
        ).as("changes"),
      )
      .whereRef("ticket_findings.finding_id", "=", "findings.id")
      .where("tickets.linked_at", "is not", null)
      .orderBy("tickets.id"),
  );
}

export interface LinkedTicket {
  id: number;
  external_key: string | null;
  url: string | null;
  linked_at: string | null;
  kind: string;
  integration_name: string;
  mapping_name: string;
  changes: TicketView["changes"];
}

/** A finding's linkedTickets column as the Integrator Tickets column shows them. */
export function ticketViews(findingId: number, column: LinkedTicket[]): TicketView[] {
  return fromJson(column).map((t) => ({
    id: t.id,
    findingId,
    kind: t.kind,
    integrationName: t.integration_name,
    mappingName: t.mapping_name,
    key: t.external_key ?? "",
    url: t.url ?? "",
    linkedAt: t.linked_at!,
    // A list nested in a list: SQLite may hand the inner one over as its text.
    changes: fromJson(t.changes),
  }));
}

/** The tickets of these findings with their changelogs, in one statement (findings without tickets are left out). */
export async function ticketsForFindings(db: Db, findingIds: readonly number[]): Promise<Map<number, TicketView[]>> {
  const out = new Map<number, TicketView[]>();
  if (findingIds.length === 0) return out;
  const rows = await db
    .selectFrom("findings")
    .select("findings.id")
    .select(linkedTickets(db))
    .where(inList(db, "findings.id", findingIds))
    .execute();
  for (const row of rows) {
    const views = ticketViews(row.id, row.beside);
    if (views.length) out.set(row.id, views);
  }
  return out;
}

/** A ticket that now lives elsewhere in the tracker (a transferred issue, a moved Jira issue): followed there, with a changelog line. */
export async function recordMove(db: Db, ticketId: number, from: TicketRef, moved: { to: TicketRef; how: string }, now: Date): Promise<void> {
  await db
    .updateTable("tickets")
    .set({ external_id: moved.to.id, external_key: moved.to.key, url: moved.to.url, updated_at: now.toISOString() })
    .where("id", "=", ticketId)
    .execute();
  await recordChange(db, ticketId, "moved", `${from.key} is now ${moved.to.key} (${moved.how}); Patchbay follows it there`, now);
}

/** Takes the subject's ticket row for a push until `until`, creating it (with its marker) if needed; undefined while another holder has it. */
export async function claimTicket(
  db: Db,
  mappingId: number,
  subjectKey: string,
  marker: string,
  holder: string,
  until: Date,
  now: Date,
): Promise<{ ticket: Ticket; inserted: boolean } | undefined> {
  const stamp = now.toISOString();
  const inserted = await db
    .insertInto("tickets")
    .values({
      mapping_id: mappingId,
      subject_key: subjectKey,
      marker,
      lock_until: until.toISOString(),
      lock_by: holder,
      created_at: stamp,
      updated_at: stamp,
      external_id: null,
      external_key: null,
      url: null,
      state: null,
      content_hash: null,
      content: null,
      linked_at: null,
      synced_at: null,
    })
    .onConflict((oc) => oc.columns(["mapping_id", "subject_key"]).doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return { ticket: (await ticketFor(db, mappingId, subjectKey))!, inserted: true };
  const taken = await db
    .updateTable("tickets")
    .set({ lock_until: until.toISOString(), lock_by: holder })
    .where("mapping_id", "=", mappingId)
    .where("subject_key", "=", subjectKey)
    .where((eb) => eb.or([eb("lock_until", "is", null), eb("lock_until", "<", stamp), eb("lock_by", "=", holder)]))
    .executeTakeFirst();
  if (Number(taken.numUpdatedRows) !== 1) return undefined;
  return { ticket: (await ticketFor(db, mappingId, subjectKey))!, inserted: false };
}

/** Lets go of a subject's ticket row after a push. */
export async function releaseTicket(db: Db, mappingId: number, subjectKey: string): Promise<void> {
  await db.updateTable("tickets").set({ lock_until: null, lock_by: null }).where("mapping_id", "=", mappingId).where("subject_key", "=", subjectKey).execute();
}

/** The findings a ticket covers now: exactly these. */
export async function replaceTicketFindings(db: Db, ticketId: number, findingIds: number[]): Promise<void> {
  await db.deleteFrom("ticket_findings").where("ticket_id", "=", ticketId).execute();
  const rows = findingIds.map((id) => ({ ticket_id: ticketId, finding_id: id }));
  for (let i = 0; i < rows.length; i += 500)
    await db
      .insertInto("ticket_findings")
      .values(rows.slice(i, i + 500))
      .execute();
}

/** Records an existing tracker ticket a person linked to one finding; gives its id, or undefined when the subject has a ticket row already. */
export async function insertLinkedTicket(
  db: Db,
  mappingId: number,
  subjectKey: string,
  marker: string,
  ticket: { id: string; key: string; url: string },
  findingId: number,
  now: Date,
): Promise<number | undefined> {
  const stamp = now.toISOString();
  const row = await db
    .insertInto("tickets")
    .values({
      mapping_id: mappingId,
      subject_key: subjectKey,
      marker,
      external_id: ticket.id,
      external_key: ticket.key,
      url: ticket.url,
      // No state and no content yet: the next push moves and updates it like any other.
      state: null,
      content_hash: null,
      content: null,
      lock_until: null,
      lock_by: null,
      linked_at: stamp,
      origin: "linked",
      synced_at: null,
      created_at: stamp,
      updated_at: stamp,
    })
    .onConflict((oc) => oc.columns(["mapping_id", "subject_key"]).doNothing())
    .returning("id")
    .executeTakeFirst();
  if (!row) return undefined;
  await db.insertInto("ticket_findings").values({ ticket_id: row.id, finding_id: findingId }).execute();
  return row.id;
}

/** How far an assignment's sweep has linked findings (the last finding id it looked at). */
export async function setLinkedThrough(db: Db, assignmentId: number, findingId: number): Promise<void> {
  await db.updateTable("tracker_assignments").set({ linked_through: findingId }).where("id", "=", assignmentId).execute();
}

export async function deleteAssignments(db: Db, ids: number[]): Promise<void> {
  if (ids.length) await db.deleteFrom("tracker_assignments").where("id", "in", ids).execute();
}

/** Up to `limit` findings a mapping's tickets cover now, newest first. */
export async function mappingFindingIds(db: Db, mappingId: number, limit: number): Promise<number[]> {
  const rows = await db
    .selectFrom("ticket_findings")
    .innerJoin("tickets", "tickets.id", "ticket_findings.ticket_id")
    .select("ticket_findings.finding_id")
    .where("tickets.mapping_id", "=", mappingId)
    .orderBy("ticket_findings.finding_id", "desc")
    .limit(limit)
    .execute();
  return rows.map((r) => r.finding_id);
}

export interface TicketListing {
  id: number;
  key: string | null;
  url: string | null;
  state: string | null;
  origin: "created" | "linked";
  subject_key: string;
  mapping_id: number;
  mapping_name: string;
  integration_id: number;
  integration_name: string;
  kind: string;
  findings: number;
  linked_at: string | null;
  synced_at: string | null;
  created_at: string;
}

/** Tickets newest first, a page at a time (ids below `before`); of one tracker connection, or all. */
export async function listTickets(db: Db, opts: { before?: number; limit: number; integrationId?: number }): Promise<TicketListing[]> {
  return db
    .selectFrom("tickets")
    .innerJoin("tracker_mappings", "tracker_mappings.id", "tickets.mapping_id")
    .innerJoin("integrations", "integrations.id", "tracker_mappings.integration_id")
    .select([
      "tickets.id",
      "tickets.external_key as key",
      "tickets.url",
      "tickets.state",
      "tickets.origin",
      "tickets.subject_key",
      "tickets.mapping_id",
      "tracker_mappings.name as mapping_name",
      "integrations.id as integration_id",
      "integrations.name as integration_name",
      "integrations.kind",
      "tickets.linked_at",
      "tickets.synced_at",
      "tickets.created_at",
    ])
    .select((eb) =>
      eb
        .selectFrom("ticket_findings")
        .select((e) => e.fn.countAll<number>().as("n"))
        .whereRef("ticket_findings.ticket_id", "=", "tickets.id")
        .as("findings"),
    )
    .where("tickets.linked_at", "is not", null)
    .$if(opts.before !== undefined, (q) => q.where("tickets.id", "<", opts.before!))
    .$if(opts.integrationId !== undefined, (q) => q.where("integrations.id", "=", opts.integrationId!))
    .orderBy("tickets.id", "desc")
    .limit(opts.limit)
    .execute() as Promise<TicketListing[]>;
}
