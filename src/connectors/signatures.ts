// Webhook signature checks shared by the services that sign with HMAC-SHA256 over the raw
// body and send "sha256=<hex>" (GitHub's X-Hub-Signature-256, Bitbucket's X-Hub-Signature).
import crypto from "node:crypto";

/** True if `given` is "sha256=" + hex HMAC-SHA256(secret, rawBody); compared in constant time. */
export function sha256SignatureMatches(given: string, rawBody: string, secret: string): boolean {
  const expected = Buffer.from(`sha256=${crypto.createHmac("sha256", secret).update(rawBody, "utf8").digest("hex")}`);
  const actual = Buffer.from(given);
  return actual.length === expected.length && crypto.timingSafeEqual(actual, expected);
}
