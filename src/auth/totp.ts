// Two-step sign-in (TOTP, RFC 6238: 30-second steps, 6 digits, SHA-1 as every authenticator app
// expects): keys, the otpauth:// URI and its QR code (an SVG drawn on the server), codes checked
// a step either side for clock drift and never accepted twice, and ten single-use recovery codes.
import { createHash, randomBytes } from "node:crypto";
import { createTOTPKeyURI, generateHOTP, verifyHOTP } from "@oslojs/otp";
import { encodeBase32UpperCaseNoPadding } from "@oslojs/encoding";
import { renderSVG } from "uqr";
import type { Db, User } from "../db/schema.js";
import type { Vault } from "../vault.js";
import { claimTotpStep } from "./users.js";

export const TOTP_PERIOD_S = 30;
export const TOTP_DIGITS = 6;
/** Steps accepted either side of now: an authenticator's clock a little off still works. */
const DRIFT_STEPS = 1;
export const RECOVERY_CODE_COUNT = 10;

export function newTotpKey(): Uint8Array {
  return new Uint8Array(randomBytes(20));
}

/** A TOTP key as stored: sealed by the vault. */
export const sealTotpKey = (vault: Vault, key: Uint8Array) => vault.encrypt(Buffer.from(key).toString("base64"));
export const openTotpKey = (vault: Vault, sealed: string) => new Uint8Array(Buffer.from(vault.decrypt(sealed), "base64"));

/**
 * The user's second factor, checked: a code from their app (each time step once) or one of their
 * recovery codes (each once). Which it was, or undefined when it is neither.
 */
export async function checkSecondFactor(
  db: Db,
  vault: Vault,
  user: User,
  typed: string,
  now: Date,
): Promise<"authenticator code" | "recovery code" | undefined> {
  if (!user.totp_key) return undefined;
  const code = typed.trim().slice(0, 40);
  if (/^\d[\d ]{5,7}$/.test(code)) {
    const step = matchingStep(openTotpKey(vault, user.totp_key), code, now);
    return step !== undefined && (await claimTotpStep(db, user.id, step)) ? "authenticator code" : undefined;
  }
  if (/^[a-z0-9]{5}-?[a-z0-9]{5}$/i.test(code) && (await useRecoveryCode(db, user.id, code, now))) return "recovery code";
  return undefined;
}

/** What an authenticator app reads from the QR code. */
export function totpUri(issuer: string, username: string, key: Uint8Array): string {
  return createTOTPKeyURI(issuer, username, key, TOTP_PERIOD_S, TOTP_DIGITS);
}

/** The key as people type it into an app by hand: base32 in groups of four. */
export function typedKey(key: Uint8Array): string {
  return encodeBase32UpperCaseNoPadding(key)
    .replace(/(.{4})/g, "$1 ")
    .trim();
}

export function qrCodeSvg(uri: string): string {
  return renderSVG(uri, { border: 2, pixelSize: 6 });
}

export function stepAt(now: Date): number {
  return Math.floor(now.getTime() / 1000 / TOTP_PERIOD_S);
}

/** The code an authenticator shows at this moment (for tests and the enrolment check). */
export function codeAt(key: Uint8Array, now: Date): string {
  return generateHOTP(key, BigInt(stepAt(now)), TOTP_DIGITS);
}

/** The time step the code belongs to (now, or one either side), or undefined when it matches none. */
export function matchingStep(key: Uint8Array, code: string, now: Date): number | undefined {
  const digits = code.replace(/\s+/g, "");
  if (!/^\d{6}$/.test(digits)) return undefined;
  const current = stepAt(now);
  for (let step = current - DRIFT_STEPS; step <= current + DRIFT_STEPS; step++) if (verifyHOTP(key, BigInt(step), TOTP_DIGITS, digits)) return step;
  return undefined;
}

/** Random letters and digits none of which is easily mistaken for another, each equally likely. */
function unambiguous(length: number): string {
  const alphabet = "abcdefghjkmnpqrstuvwxyz23456789";
  const limit = 256 - (256 % alphabet.length);
  let out = "";
  while (out.length < length) for (const b of randomBytes(32)) if (b < limit && out.length < length) out += alphabet[b % alphabet.length];
  return out;
}

const hashCode = (code: string) =>
  createHash("sha256")
    .update(code.toLowerCase().replace(/[^a-z0-9]/g, ""))
    .digest("hex");

/** Replaces the user's recovery codes with ten new ones: returned once, only their hashes kept. */
export async function newRecoveryCodes(db: Db, userId: number): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const chars = unambiguous(10);
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom("recovery_codes").where("user_id", "=", userId).execute();
    await trx
      .insertInto("recovery_codes")
      .values(codes.map((code) => ({ user_id: userId, code_hash: hashCode(code), used_at: null })))
      .execute();
  });
  return codes;
}

/** Uses a recovery code: true once per code. */
export async function useRecoveryCode(db: Db, userId: number, code: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable("recovery_codes")
    .set({ used_at: now.toISOString() })
    .where("user_id", "=", userId)
    .where("code_hash", "=", hashCode(code))
    .where("used_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function recoveryCodesLeft(db: Db, userId: number): Promise<number> {
  const row = await db
    .selectFrom("recovery_codes")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("user_id", "=", userId)
    .where("used_at", "is", null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function deleteRecoveryCodes(db: Db, userId: number): Promise<void> {
  await db.deleteFrom("recovery_codes").where("user_id", "=", userId).execute();
}

// --- sign-in challenges: the password was right; the code comes next --------------------------

export const CHALLENGE_COOKIE = "patchbay_challenge";
export const CHALLENGE_TTL_MS = 5 * 60_000;
export const CHALLENGE_ATTEMPTS = 5;

const challengeId = (token: string) => createHash("sha256").update(token).digest("hex");

export async function createChallenge(db: Db, userId: number, next: string, now: Date): Promise<string> {
  const token = encodeBase32UpperCaseNoPadding(randomBytes(20)).toLowerCase();
  await db.deleteFrom("sign_in_challenges").where("expires_at", "<", now.toISOString()).execute();
  await db
    .insertInto("sign_in_challenges")
    .values({ id: challengeId(token), user_id: userId, next, expires_at: new Date(now.getTime() + CHALLENGE_TTL_MS).toISOString() })
    .execute();
  return token;
}

/** The challenge a cookie names, when it is still open; counts this attempt (closing it after the last). */
export async function takeChallengeAttempt(db: Db, token: string, now: Date): Promise<{ userId: number; next: string; left: number } | undefined> {
  const id = challengeId(token);
  const row = await db.selectFrom("sign_in_challenges").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row || row.expires_at <= now.toISOString() || row.attempts >= CHALLENGE_ATTEMPTS) {
    if (row) await db.deleteFrom("sign_in_challenges").where("id", "=", id).execute();
    return undefined;
  }
  await db
    .updateTable("sign_in_challenges")
    .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
    .where("id", "=", id)
    .execute();
  return { userId: row.user_id, next: row.next, left: CHALLENGE_ATTEMPTS - row.attempts - 1 };
}

export async function peekChallenge(db: Db, token: string, now: Date): Promise<boolean> {
  const row = await db.selectFrom("sign_in_challenges").select(["expires_at", "attempts"]).where("id", "=", challengeId(token)).executeTakeFirst();
  return Boolean(row && row.expires_at > now.toISOString() && row.attempts < CHALLENGE_ATTEMPTS);
}

export async function closeChallenge(db: Db, token: string): Promise<void> {
  await db.deleteFrom("sign_in_challenges").where("id", "=", challengeId(token)).execute();
}
