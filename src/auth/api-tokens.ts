// API tokens for machines: "pbt_" and 32 random base32 characters, shown once; only their
// SHA-256 is stored, so a token is checked by looking its hash up (a 160-bit random secret needs
// no slow hash). A token acts for the person who created it, never beyond its scopes:
//   read    — read findings, tickets, integrations, jobs, uploads
//   write   — also what a member changes (a finding's status)
//   upload  — send scan reports (CI)
//   admin   — everything an administrator can (the owner must still be one)
// Tokens can expire and be revoked; last use is recorded (at most once a minute).
import { createHash, randomBytes } from "node:crypto";
import { encodeBase32LowerCaseNoPadding } from "@oslojs/encoding";
import type { ApiToken, Db, Role, User } from "../db/schema.js";

export const TOKEN_SCOPES = ["read", "write", "upload", "admin"] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

export const SCOPE_HELP: Record<TokenScope, string> = {
  read: "read findings, tickets, integrations, jobs and uploads",
  write: "also change what a member can change, like a finding's status",
  upload: "send scan reports from CI",
  admin: "everything an administrator can do",
};

/** Scopes only an administrator may give a token. */
export const ADMIN_ONLY_SCOPES: readonly TokenScope[] = ["write", "admin"];

/** What each scope also grants. */
const IMPLIED: Record<TokenScope, TokenScope[]> = { read: ["read"], write: ["read", "write"], upload: ["upload"], admin: ["read", "write", "upload", "admin"] };

/** How often a token's last use is written: a busy CI job does not write on every request. */
const LAST_USE_EVERY_MS = 60_000;

const hash = (token: string) => createHash("sha256").update(token).digest("hex");

export function parseScopes(text: string): TokenScope[] {
  return text.split(",").filter((s): s is TokenScope => (TOKEN_SCOPES as readonly string[]).includes(s));
}

/** The scopes someone of this role may give a token they create. */
export function scopesFor(role: Role): TokenScope[] {
  return TOKEN_SCOPES.filter((s) => role === "admin" || !ADMIN_ONLY_SCOPES.includes(s));
}

export async function createApiToken(
  db: Db,
  input: { name: string; scopes: TokenScope[]; owner: Pick<User, "id" | "username">; expiresAt: Date | null },
  now: Date,
): Promise<{ id: number; token: string }> {
  const token = `pbt_${encodeBase32LowerCaseNoPadding(randomBytes(20))}`;
  const row = await db
    .insertInto("api_tokens")
    .values({
      name: input.name,
      token_hash: hash(token),
      prefix: token.slice(0, 8),
      scopes: input.scopes.join(","),
      user_id: input.owner.id,
      created_by: input.owner.username,
      created_at: now.toISOString(),
      expires_at: input.expiresAt?.toISOString() ?? null,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  return { id: row.id, token };
}

export interface TokenGrant {
  token: ApiToken;
  /** The owner, whose rights the token uses; undefined for an old token whose creator is gone. */
  user: User | undefined;
  /** What the token may do now: its scopes, within its owner's role. */
  rights: Set<TokenScope>;
}

/** The token's grant when it is valid (known, not revoked, not expired); records its use. */
export async function authenticateApiToken(db: Db, token: string, now: Date): Promise<TokenGrant | undefined> {
  if (!/^pbt_[a-z2-7]{32}$/.test(token)) return undefined;
  const row = await db.selectFrom("api_tokens").selectAll().where("token_hash", "=", hash(token)).where("revoked_at", "is", null).executeTakeFirst();
  if (!row || (row.expires_at !== null && row.expires_at <= now.toISOString())) return undefined;
  const user = row.user_id === null ? undefined : await db.selectFrom("users").selectAll().where("id", "=", row.user_id).executeTakeFirst();
  if (row.user_id !== null && !user) return undefined;
  const rights = new Set<TokenScope>();
  for (const scope of parseScopes(row.scopes)) for (const granted of IMPLIED[scope]) rights.add(granted);
  // The owner's role bounds the token: a demoted admin's admin token reads and writes as a member.
  if (user?.role !== "admin") rights.delete("admin");
  // Without an owner (made before tokens had one, by someone since removed): uploads only.
  if (!user) for (const scope of [...rights]) if (scope !== "upload") rights.delete(scope);
  if (!row.last_used_at || now.getTime() - Date.parse(row.last_used_at) >= LAST_USE_EVERY_MS) {
    await db.updateTable("api_tokens").set({ last_used_at: now.toISOString() }).where("id", "=", row.id).execute();
  }
  return { token: row, user, rights };
}

/** Tokens, newest first: everyone's, or one person's. */
export function listApiTokens(db: Db, ownerId?: number) {
  return db
    .selectFrom("api_tokens")
    .select(["id", "name", "prefix", "scopes", "user_id", "created_by", "created_at", "last_used_at", "revoked_at", "expires_at"])
    .$if(ownerId !== undefined, (q) => q.where("user_id", "=", ownerId!))
    .orderBy("id", "desc")
    .execute();
}

export function findApiToken(db: Db, id: number) {
  return db.selectFrom("api_tokens").select(["id", "name", "user_id", "revoked_at"]).where("id", "=", id).executeTakeFirst();
}

export async function revokeApiToken(db: Db, id: number, now: Date): Promise<boolean> {
  const result = await db
    .updateTable("api_tokens")
    .set({ revoked_at: now.toISOString() })
    .where("id", "=", id)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** A removed person's tokens stop working with them. */
export async function revokeTokensOf(db: Db, userId: number, now: Date): Promise<void> {
  await db.updateTable("api_tokens").set({ revoked_at: now.toISOString() }).where("user_id", "=", userId).where("revoked_at", "is", null).execute();
}
