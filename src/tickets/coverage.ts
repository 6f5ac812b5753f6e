// Which tracker mappings cover a finding (through their assignments), and the subject its
// ticket would have in each: what Push to Integrators on a finding sends.
import type { Db, Finding, TrackerAssignment } from "../db/schema.js";
import type { Beside } from "../findings/query.js";
import { jsonArrayFrom, jsonObjectFrom, fromJson } from "../db/dialect.js";
import { assignmentCovers, ownerColumn, subjectKeyOf } from "./subjects.js";
import { type LinkedTicket, linkedTicketsQuery } from "./store.js";

export interface Coverage {
  mappingId: number;
  mappingName: string;
  subjectKey: string;
}

/** An assignment as coverage reads it, with its mapping's name. */
export type CoveringAssignment = Pick<TrackerAssignment, "id" | "mapping_id" | "repository_ids" | "min_severity" | "group_by"> & { mapping_name: string };

/** Every tracker assignment with its mapping's name, in the order coverage lists them. */
export function trackerAssignments(db: Db): Promise<CoveringAssignment[]> {
  return assignmentsQuery(db).execute();
}

function assignmentsQuery(db: Db) {
  return db
    .selectFrom("tracker_assignments")
    .innerJoin("tracker_mappings", "tracker_mappings.id", "tracker_assignments.mapping_id")
    .select([
      "tracker_assignments.id",
      "tracker_assignments.mapping_id",
      "tracker_assignments.repository_ids",
      "tracker_assignments.min_severity",
      "tracker_assignments.group_by",
      "tracker_mappings.name as mapping_name",
    ])
    .orderBy("tracker_assignments.mapping_id")
    .orderBy("tracker_assignments.id");
}

/** The mappings whose assignments take in this finding (its asset in `repositoryId`, or none; `owner`: that repository's). */
export function coverageOf(finding: Finding, repositoryId: number | null, assignments: CoveringAssignment[], owner: string | null = null): Coverage[] {
  const out = new Map<string, Coverage>();
  for (const a of assignments) {
    if (!assignmentCovers(a, finding, repositoryId)) continue;
    const subjectKey = subjectKeyOf(a.group_by, { ...finding, owner });
    out.set(`${a.mapping_id}|${subjectKey}`, { mappingId: a.mapping_id, mappingName: a.mapping_name, subjectKey });
  }
  return [...out.values()];
}

/** The mappings whose assignments take in this finding, read for it. */
export async function coveringMappings(db: Db, finding: Finding): Promise<Coverage[]> {
  const [assignments, asset] = await Promise.all([
    trackerAssignments(db),
    db
      .selectFrom("assets")
      .leftJoin("repositories", "repositories.id", "assets.repository_id")
      .select(["assets.repository_id", "repositories.owner"])
      .where("assets.id", "=", finding.asset_id)
      .executeTakeFirst(),
  ]);
  return coverageOf(finding, asset?.repository_id ?? null, assignments, asset?.owner ?? null);
}

export interface FindingTrackers {
  tickets: LinkedTicket[];
  assignments: CoveringAssignment[];
  /** The finding's repository's owning team (ticket groups by owner). */
  owner: string | null;
}

/**
 * A finding's tickets and every tracker assignment, as one column of the finding's own query (its
 * page reads them with it, no statement of their own); read with readTrackers.
 */
export function findingTrackers(db: Db): Beside<FindingTrackers> {
  return (eb) =>
    jsonObjectFrom(
      db,
      db.selectNoFrom([linkedTicketsQuery(db, eb).as("tickets"), jsonArrayFrom(db, assignmentsQuery(db)).as("assignments"), ownerColumn(eb)]),
    ).as("beside") as never;
}

/** The findingTrackers column as read (SQLite may hand nested lists over as their text). */
export function readTrackers(column: FindingTrackers): FindingTrackers {
  const read = fromJson(column);
  return { tickets: fromJson(read.tickets), assignments: fromJson(read.assignments), owner: read.owner ?? null };
}
