// A new webhook secret: 32 random bytes, URL-safe (what Patchbay gives a webhook it sets up itself).
import crypto from "node:crypto";

export function generateWebhookSecret(): string {
  return crypto.randomBytes(32).toString("base64url");
}
