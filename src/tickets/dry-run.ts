// Dry run: what a push would do, decided exactly as the push engine decides it — the same
// rendering, templates, content hash and status map — with nothing sent to the tracker. Used
// before an assignment is switched to an automatic mode (the tickets its first sweep would
// create, update, move or close) and before a mapping's changes are saved (the linked tickets
// whose content or status would change).
import { createHash } from "node:crypto";
import { sql } from "kysely";
import type { TicketContent } from "../connectors/types.js";
import type { Db, PushMode, TrackerAssignment } from "../db/schema.js";
import { displayFieldValue, resolveFields } from "./fields.js";
import { diff, markerFor, summary } from "./push.js";
import { loadSubject, plain, TICKET_STATE_LABEL } from "./render.js";
import { type MappingData, ticketFor } from "./store.js";
import { assignmentScope, ownerColumn, subjectFindingIds, subjectKeyOf } from "./subjects.js";
import { applyTemplates } from "./templates.js";

/** Subjects a preview looks at, at most. */
export const PREVIEW_LIMIT = 200;
const OPEN = ["open", "in_remediation"] as const;

export interface PlannedPush {
  subject: string;
  ticket: string | null;
  action: "create" | "update" | "transition" | "close";
  /** What changes, in words: fields changed, the status it moves to. */
  changes: string[];
  title: string;
  fields: { name: string; value: string }[];
  description: string;
}

/** The push of one subject as it would happen now; undefined when it would send nothing. */
export async function planPush(
  db: Db,
  mappingId: number,
  data: MappingData,
  subjectKey: string,
  baseUrl: string,
  manual: boolean,
): Promise<PlannedPush | undefined> {
  const existing = await ticketFor(db, mappingId, subjectKey);
  const loaded = await loadSubject(db, subjectKey, await subjectFindingIds(db, mappingId, subjectKey, existing?.id), baseUrl);
  if (!loaded) return undefined;
  const view = applyTemplates(loaded, data.templates, baseUrl, plain);
  const linked = Boolean(existing?.linked_at);
  if (!linked && !manual && (view.state === "done" || view.state === "accepted")) return undefined;
  const content: TicketContent = { fields: resolveFields(data.fields, view), marker: existing?.marker ?? markerFor(mappingId, subjectKey) };
  const hash = createHash("sha256").update(JSON.stringify(content)).digest("hex");
  const after = summary(data.fields, content);
  const changes: string[] = [];
  let action: PlannedPush["action"] | undefined = linked ? undefined : "create";
  if (linked && existing!.content_hash !== hash) {
    action = "update";
    const changed = diff(existing!.content, after);
    changes.push(changed.length ? `Update ${changed.join("; ")}` : "Update the content");
  }
  const statusId = data.statusMap[view.state];
  if (statusId && (linked ? existing!.state !== view.state : view.state !== "open")) {
    const closing = view.state === "done" || view.state === "accepted";
    // Moving (above all closing) says more than an update of the content.
    if (linked) action = closing ? "close" : "transition";
    changes.push(`Move to ${data.statusNames[statusId] ?? statusId} (${TICKET_STATE_LABEL[view.state].toLowerCase()})`);
  }
  if (!action) return undefined;
  const fields = data.fields
    .map((m) => ({ name: m.name, value: content.fields[m.fieldId] }))
    .filter((f): f is { name: string; value: NonNullable<typeof f.value> } => f.value !== undefined && f.value.kind !== "document")
    .map((f) => ({ name: f.name, value: displayFieldValue(f.value, data.fields.find((m) => m.name === f.name)?.choiceNames) }));
  return {
    subject: view.label,
    ticket: existing?.external_key ?? null,
    action,
    changes: action === "create" ? ["Create", ...changes] : changes,
    title: view.text.title ?? "",
    fields,
    description: view.plainText,
  };
}

/** A dry run: the first pushes, and how many tickets it would write in all (for the time estimate). */
export interface DryRun {
  plans: PlannedPush[];
  considered: number;
  more: boolean;
  /** Tickets the push would create or change: exact when nothing is left out, otherwise at most this many. */
  writes: number;
}

/** What the first sweep would push if the assignment had this push mode (automatic modes only). */
export async function planAssignment(
  db: Db,
  mappingId: number,
  data: MappingData,
  assignment: Pick<TrackerAssignment, "repository_ids" | "min_severity" | "group_by" | "linked_through"> & { push_mode: PushMode },
  baseUrl: string,
): Promise<DryRun> {
  const subjects = new Set<string>();
  const links = assignment.push_mode === "link_new" || assignment.push_mode === "link_and_update";
  const updates = assignment.push_mode === "update_existing" || assignment.push_mode === "link_and_update";
  if (links) {
    const rows = await db
      .selectFrom("findings")
      .select(["id", "ecosystem", "package_lc", "cve", "asset_id"])
      .$if(assignment.group_by === "owner", (q) => q.select(ownerColumn))
      .where("id", ">", assignment.linked_through)
      .where("status", "in", [...OPEN])
      .where(assignmentScope(assignment as TrackerAssignment))
      .orderBy("id")
      .limit(PREVIEW_LIMIT * 5)
      .execute();
    for (const r of rows) subjects.add(subjectKeyOf(assignment.group_by, r));
  }
  if (updates) {
    const linked = await db
      .selectFrom("tickets")
      .select("subject_key")
      .where("mapping_id", "=", mappingId)
      .where("linked_at", "is not", null)
      .orderBy("id")
      .limit(PREVIEW_LIMIT * 5)
      .execute();
    for (const t of linked) subjects.add(t.subject_key);
  }
  const run = await planSubjects(db, mappingId, data, [...subjects], baseUrl);
  if (!run.more) return run;
  // Beyond the preview, the estimate counts every subject the sweep would look at.
  const writes = (links ? await countNewSubjects(db, assignment) : 0) + (updates ? await countLinked(db, mappingId) : 0);
  return { ...run, writes: Math.max(writes, run.plans.length) };
}

/** Subjects the assignment's new open findings make (one per finding, package, CVE, asset, or owner and package). */
async function countNewSubjects(
  db: Db,
  assignment: Pick<TrackerAssignment, "repository_ids" | "min_severity" | "group_by" | "linked_through">,
): Promise<number> {
  const subject = {
    finding: sql`findings.id`,
    package: sql`coalesce(findings.ecosystem, '') || ':' || findings.package_lc`,
    cve: sql`findings.cve`,
    asset: sql`findings.asset_id`,
    owner: sql`coalesce((select repositories.owner from assets join repositories on repositories.id = assets.repository_id where assets.id = findings.asset_id), '') || ':' || coalesce(findings.ecosystem, '') || ':' || findings.package_lc`,
  }[assignment.group_by];
  const row = await db
    .selectFrom("findings")
    .select(sql<number | string>`count(distinct ${subject})`.as("n"))
    .where("id", ">", assignment.linked_through)
    .where("status", "in", [...OPEN])
    .where(assignmentScope(assignment as TrackerAssignment))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

async function countLinked(db: Db, mappingId: number): Promise<number> {
  const row = await db
    .selectFrom("tickets")
    .select((eb) => eb.fn.countAll<number | string>().as("n"))
    .where("mapping_id", "=", mappingId)
    .where("linked_at", "is not", null)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** The linked tickets a changed mapping would update or move on their next push. */
export async function planMappingChange(db: Db, mappingId: number, data: MappingData, baseUrl: string): Promise<DryRun> {
  const linked = await db
    .selectFrom("tickets")
    .select("subject_key")
    .where("mapping_id", "=", mappingId)
    .where("linked_at", "is not", null)
    .orderBy("id")
    .limit(PREVIEW_LIMIT * 5)
    .execute();
  const run = await planSubjects(
    db,
    mappingId,
    data,
    linked.map((t) => t.subject_key),
    baseUrl,
  );
  return run.more ? { ...run, writes: Math.max(run.plans.length, await countLinked(db, mappingId)) } : run;
}

async function planSubjects(db: Db, mappingId: number, data: MappingData, subjects: string[], baseUrl: string): Promise<DryRun> {
  const plans: PlannedPush[] = [];
  let considered = 0;
  for (const subject of subjects) {
    if (plans.length >= PREVIEW_LIMIT) return { plans, considered, more: true, writes: plans.length };
    considered++;
    const plan = await planPush(db, mappingId, data, subject, baseUrl, false);
    if (plan) plans.push(plan);
  }
  return { plans, considered, more: false, writes: plans.length };
}
