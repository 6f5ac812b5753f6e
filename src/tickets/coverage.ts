// Which tracker mappings cover a finding (through their assignments), and the subject its
// ticket would have in each: what Push to Integrators on a finding sends.
import type { Db, Finding } from "../db/schema.js";
import { assignmentScope, subjectKeyOf } from "./subjects.js";

export interface Coverage {
  mappingId: number;
  mappingName: string;
  subjectKey: string;
}

/** Every tracker assignment with its mapping's name, in the order coverage lists them. */
export function trackerAssignments(db: Db) {
  return db
    .selectFrom("tracker_assignments")
    .innerJoin("tracker_mappings", "tracker_mappings.id", "tracker_assignments.mapping_id")
    .selectAll("tracker_assignments")
    .select("tracker_mappings.name as mapping_name")
    .orderBy("tracker_assignments.mapping_id")
    .orderBy("tracker_assignments.id")
    .execute();
}

/**
 * The mappings whose assignments take in this finding. `assignments` (from trackerAssignments)
 * may have been read beside the finding; each assignment's scope is checked at once.
 */
export async function coveringMappings(db: Db, finding: Finding, assignments?: Awaited<ReturnType<typeof trackerAssignments>>): Promise<Coverage[]> {
  const all = assignments ?? (await trackerAssignments(db));
  const hits = await Promise.all(
    all.map((a) => db.selectFrom("findings").select("id").where("id", "=", finding.id).where(assignmentScope(a)).executeTakeFirst()),
  );
  const out = new Map<string, Coverage>();
  all.forEach((a, i) => {
    if (!hits[i]) return;
    const subjectKey = subjectKeyOf(a.group_by, finding);
    out.set(`${a.mapping_id}|${subjectKey}`, { mappingId: a.mapping_id, mappingName: a.mapping_name, subjectKey });
  });
  return [...out.values()];
}
