// Webhook checks: HMAC-SHA256 signatures over the raw body sent as "sha256=<hex>" (GitHub's
// X-Hub-Signature-256, Bitbucket's and Jira's X-Hub-Signature), and, for services that cannot
// sign, a per-integration secret in a header (X-Patchbay-Token, or a Basic password).
import crypto from "node:crypto";

/** True if `given` is "sha256=" + hex HMAC-SHA256(secret, rawBody); compared in constant time. */
export function sha256SignatureMatches(given: string, rawBody: string, secret: string): boolean {
  const expected = Buffer.from(`sha256=${crypto.createHmac("sha256", secret).update(rawBody, "utf8").digest("hex")}`);
  const actual = Buffer.from(given);
  return actual.length === expected.length && crypto.timingSafeEqual(actual, expected);
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
  const digest = (value: string) => crypto.createHash("sha256").update(value, "utf8").digest();
  return crypto.timingSafeEqual(digest(given), digest(secret));
}
