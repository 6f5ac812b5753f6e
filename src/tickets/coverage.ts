// Which tracker mappings cover a finding (through their assignments), and the subject its
// ticket would have in each: what Push to Integrators on a finding sends.
import type { Db, Finding } from "../db/schema.js";
import { assignmentScope, subjectKeyOf } from "./subjects.js";

export interface Coverage {
  mappingId: number;
  mappingName: string;
  subjectKey: string;
}

export async function coveringMappings(db: Db, finding: Finding): Promise<Coverage[]> {
  const assignments = await db
    .selectFrom("tracker_assignments")
    .innerJoin("tracker_mappings", "tracker_mappings.id", "tracker_assignments.mapping_id")
    .selectAll("tracker_assignments")
    .select("tracker_mappings.name as mapping_name")
    .orderBy("tracker_assignments.mapping_id")
    .orderBy("tracker_assignments.id")
    .execute();
  const out = new Map<string, Coverage>();
  for (const a of assignments) {
    const hit = await db.selectFrom("findings").select("id").where("id", "=", finding.id).where(assignmentScope(a)).executeTakeFirst();
    if (!hit) continue;
    const subjectKey = subjectKeyOf(a.group_by, finding);
    out.set(`${a.mapping_id}|${subjectKey}`, { mappingId: a.mapping_id, mappingName: a.mapping_name, subjectKey });
  }
  return [...out.values()];
}
