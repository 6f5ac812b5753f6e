// API tokens for machines (uploads from CI): "pbt_" and 32 random base32 characters, shown
// once; only their SHA-256 is stored, so a token is checked by looking its hash up (a
// 160-bit random secret needs no slow hash). Tokens carry scopes and can be revoked.
import { createHash, randomBytes } from "node:crypto";
import { encodeBase32LowerCaseNoPadding } from "@oslojs/encoding";
import type { Db } from "../db/schema.js";

export const TOKEN_SCOPES = ["upload"] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

const hash = (token: string) => createHash("sha256").update(token).digest("hex");

export async function createApiToken(db: Db, name: string, scopes: TokenScope[], by: string, now: Date): Promise<{ id: number; token: string }> {
  const token = `pbt_${encodeBase32LowerCaseNoPadding(randomBytes(20))}`;
  const row = await db
    .insertInto("api_tokens")
    .values({ name, token_hash: hash(token), prefix: token.slice(0, 8), scopes: scopes.join(","), created_by: by, created_at: now.toISOString() })
    .returning("id")
    .executeTakeFirstOrThrow();
  return { id: row.id, token };
}

/** The token's row when it is valid and has the scope; records its use. */
export async function authenticateApiToken(db: Db, token: string, scope: TokenScope, now: Date) {
  if (!/^pbt_[a-z2-7]{32}$/.test(token)) return undefined;
  const row = await db.selectFrom("api_tokens").selectAll().where("token_hash", "=", hash(token)).where("revoked_at", "is", null).executeTakeFirst();
  if (!row || !row.scopes.split(",").includes(scope)) return undefined;
  await db.updateTable("api_tokens").set({ last_used_at: now.toISOString() }).where("id", "=", row.id).execute();
  return row;
}

export function listApiTokens(db: Db) {
  return db
    .selectFrom("api_tokens")
    .select(["id", "name", "prefix", "scopes", "created_by", "created_at", "last_used_at", "revoked_at"])
    .orderBy("id", "desc")
    .execute();
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
