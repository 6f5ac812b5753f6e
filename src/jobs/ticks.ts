// Schedule ticks: every Patchbay process runs the same cron schedules, and each tick must enqueue
// once across all of them. A process claims (schedule, minute) by inserting it; the unique key lets
// exactly one insert succeed, on SQLite as on any database several processes share.
import type { Db } from "../db/schema.js";

/** The minute a tick belongs to: processes whose clocks differ by seconds agree on it. */
export function tickOf(at: Date): string {
  const minute = new Date(at);
  minute.setUTCSeconds(0, 0);
  return minute.toISOString();
}

/** True for the one process that claims this schedule's tick; false for every other. */
export async function claimTick(db: Db, schedule: string, at: Date): Promise<boolean> {
  const result = await db
    .insertInto("schedule_ticks")
    .values({ schedule, tick: tickOf(at), claimed_at: new Date().toISOString() })
    .onConflict((oc) => oc.columns(["schedule", "tick"]).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}

/** Forgets ticks older than a week (the clean-up job). */
export async function pruneTicks(db: Db, now: Date): Promise<number> {
  const result = await db
    .deleteFrom("schedule_ticks")
    .where("tick", "<", new Date(now.getTime() - 7 * 86_400_000).toISOString())
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
