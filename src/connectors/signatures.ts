// Webhook checks: HMAC-SHA256 signatures over the raw body sent as "sha256=<hex>" (GitHub's
// X-Hub-Signature-256, Bitbucket's and Jira's X-Hub-Signature), and, for services that cannot
// sign, a per-integration secret in a header (X-Patchbay-Token, or a Basic password).
import crypto from "node:crypto";

/** True if `given` is "sha256=" + hex HMAC-SHA256(secret, body bytes); compared in constant time. */
export function sha256SignatureMatches(given: string, body: Uint8Array, secret: string): boolean {
  return constantTimeEqual(given, `sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`);
}

/** Compares two strings in constant time (as digests, so that neither length nor content leaks). */
export function constantTimeEqual(given: string, expected: string): boolean {
  const digest = (value: string) => crypto.createHash("sha256").update(value, "utf8").digest();
  return crypto.timingSafeEqual(digest(given), digest(expected));
}

/** How far a signed timestamp may be from Patchbay's clock before the delivery is refused as stale. */
export const TIMESTAMP_TOLERANCE_SECONDS = 300;

/** Why a signed timestamp (seconds since the epoch) is refused, or undefined when it is fresh. */
export function staleTimestamp(value: string | null, now: Date): string | undefined {
  if (!value || !/^\d{1,12}$/.test(value)) return "The delivery has no signed timestamp: copy the script again from Patchbay.";
  const skew = Math.abs(now.getTime() / 1000 - Number(value));
  return skew > TIMESTAMP_TOLERANCE_SECONDS
    ? `The delivery's timestamp is ${Math.round(skew)} s away from Patchbay's clock (at most ${TIMESTAMP_TOLERANCE_SECONDS} s): a replayed or delayed delivery, or a clock to set right.`
    : undefined;
}

/** The header a service that cannot sign sends the integration's webhook secret in. */
export const SECRET_HEADER = "x-patchbay-token";

/**
 * True if the delivery carries the secret: in X-Patchbay-Token, or as the password of Basic
 * authentication (what Azure DevOps service hooks offer); compared as digests in constant time.
 */
export function secretHeaderMatches(headers: Headers, secret: string): boolean {
  const basic = /^Basic (.+)$/i.exec(headers.get("authorization") ?? "")?.[1];
  const given = headers.get(SECRET_HEADER) ?? (basic ? Buffer.from(basic, "base64").toString("utf8").split(/:(.*)/s)[1] : undefined);
  if (given === undefined) return false;
  return constantTimeEqual(given, secret);
}
