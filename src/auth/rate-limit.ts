// Sign-in throttling: attempts are counted per client address and per account in fixed
// windows, in the database. An attempt is reserved (counted) before the password is checked,
// in one atomic upsert, so sixty guesses sent at once meet the limit of five like sixty sent
// one by one; a successful attempt gives its reservation back. Replicas share the counts.
import { sql } from "kysely";
import type { Db } from "../db/schema.js";

export interface LimitRule {
  max: number;
  windowMs: number;
}

export const IP_RULE: LimitRule = { max: 20, windowMs: 15 * 60 * 1000 };
export const ACCOUNT_RULE: LimitRule = { max: 5, windowMs: 15 * 60 * 1000 };

/**
 * Counts one attempt for the key. Returns 0 when it may go ahead, or the milliseconds until
 * the window ends when the key has used its attempts (the refused attempt counts too).
 */
export async function reserveAttempt(db: Db, key: string, rule: LimitRule, now: Date): Promise<number> {
  const stamp = now.toISOString();
  const windowOver = new Date(now.getTime() - rule.windowMs).toISOString();
  const row = await db
    .insertInto("auth_attempts")
    .values({ key, count: 1, window_start: stamp })
    .onConflict((oc) =>
      oc.column("key").doUpdateSet({
        // Every right-hand side reads the row as it was: a window that is over starts again.
        count: sql<number>`case when auth_attempts.window_start <= ${windowOver} then 1 else auth_attempts.count + 1 end`,
        window_start: sql<string>`case when auth_attempts.window_start <= ${windowOver} then excluded.window_start else auth_attempts.window_start end`,
      }),
    )
    .returning(["count", "window_start"])
    .executeTakeFirstOrThrow();
  if (row.count <= rule.max) return 0;
  return Math.max(1, Date.parse(row.window_start) + rule.windowMs - now.getTime());
}

/** Gives a reservation back: the attempt succeeded. */
export async function releaseAttempt(db: Db, key: string): Promise<void> {
  await db
    .updateTable("auth_attempts")
    .set({ count: sql<number>`case when count > 0 then count - 1 else 0 end` })
    .where("key", "=", key)
    .execute();
}

export async function clearAttempts(db: Db, key: string): Promise<void> {
  await db.deleteFrom("auth_attempts").where("key", "=", key).execute();
}

export async function deleteOldAttempts(db: Db, now: Date, rule: LimitRule = IP_RULE): Promise<void> {
  await db
    .deleteFrom("auth_attempts")
    .where("window_start", "<=", new Date(now.getTime() - rule.windowMs).toISOString())
    .execute();
}
