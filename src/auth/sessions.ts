// Server-side sessions. The cookie carries a random token; the table stores only its
// SHA-256, so a leaked database does not yield usable sessions. Sessions slide: a
// request in the second half of a session's life extends it, but never past an absolute
// lifetime counted from sign-in (30 days), after which the user signs in again.
import { sha256 } from "@oslojs/crypto/sha2";
import { encodeBase32LowerCaseNoPadding, encodeHexLowerCase } from "@oslojs/encoding";
import type { Db, User } from "../db/schema.js";

export const SESSION_COOKIE = "patchbay_session";
export const SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
export const SESSION_ABSOLUTE_MS = 30 * 24 * 60 * 60 * 1000;

export interface SessionInfo {
  id: string;
  user: User;
  expiresAt: Date;
  /** The expiry moved forward: the cookie must be sent again with the new date. */
  renewed: boolean;
  /** The meta value the lookup was asked to read beside the session (undefined when none is stored). */
  meta?: string;
}

export type SessionLookup = { status: "valid"; session: SessionInfo } | { status: "expired" } | { status: "none" };

function sessionId(token: string): string {
  return encodeHexLowerCase(sha256(new TextEncoder().encode(token)));
}

export function generateSessionToken(): string {
  return encodeBase32LowerCaseNoPadding(crypto.getRandomValues(new Uint8Array(20)));
}

export async function createSession(db: Db, userId: number, now: Date): Promise<{ token: string; expiresAt: Date }> {
  const token = generateSessionToken();
  const expiresAt = new Date(now.getTime() + SESSION_TTL_MS);
  await db
    .insertInto("sessions")
    .values({ id: sessionId(token), user_id: userId, created_at: now.toISOString(), expires_at: expiresAt.toISOString() })
    .execute();
  return { token, expiresAt };
}

/** The session's user; `metaKey` names a meta value read in the same statement (what every page also needs). */
export async function validateSessionToken(db: Db, token: string, now: Date, metaKey?: string): Promise<SessionLookup> {
  const id = sessionId(token);
  const row = await db
    .selectFrom("sessions")
    .innerJoin("users", "users.id", "sessions.user_id")
    .select(["sessions.id as session_id", "sessions.expires_at", "sessions.created_at as session_created_at"])
    .select((eb) =>
      eb
        .selectFrom("meta")
        .select("meta.value")
        .where("meta.key", "=", metaKey ?? "")
        .as("meta_value"),
    )
    .selectAll("users")
    .where("sessions.id", "=", id)
    .executeTakeFirst();
  if (!row) return { status: "none" };
  let expiresAt = new Date(row.expires_at);
  let renewed = false;
  const endOfLife = Date.parse(row.session_created_at) + SESSION_ABSOLUTE_MS;
  if (expiresAt.getTime() <= now.getTime() || endOfLife <= now.getTime()) {
    await db.deleteFrom("sessions").where("id", "=", id).execute();
    return { status: "expired" };
  }
  if (expiresAt.getTime() - now.getTime() < SESSION_TTL_MS / 2 && expiresAt.getTime() < endOfLife) {
    expiresAt = new Date(Math.min(now.getTime() + SESSION_TTL_MS, endOfLife));
    renewed = true;
    await db.updateTable("sessions").set({ expires_at: expiresAt.toISOString() }).where("id", "=", id).execute();
  }
  const { session_id: _sid, expires_at: _exp, session_created_at: _created, meta_value, ...user } = row;
  return { status: "valid", session: { id, user, expiresAt, renewed, meta: meta_value ?? undefined } };
}

export async function invalidateSession(db: Db, token: string): Promise<void> {
  await db.deleteFrom("sessions").where("id", "=", sessionId(token)).execute();
}

/** Signs a user out everywhere except, optionally, the session making the change. */
export async function invalidateUserSessions(db: Db, userId: number, exceptSessionId?: string): Promise<void> {
  let query = db.deleteFrom("sessions").where("user_id", "=", userId);
  if (exceptSessionId) query = query.where("id", "!=", exceptSessionId);
  await query.execute();
}

export async function deleteExpiredSessions(db: Db, now: Date): Promise<number> {
  const result = await db.deleteFrom("sessions").where("expires_at", "<=", now.toISOString()).executeTakeFirst();
  return Number(result.numDeletedRows);
}
