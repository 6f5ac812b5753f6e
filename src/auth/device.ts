// Device cookies (OWASP's scheme against account lockout): a browser that has signed in to an
// account before carries a signed cookie naming that account. Attempts from such a browser
// are limited per address only, so guessing an admin's password from elsewhere cannot lock
// the admin out; attempts without one are limited per account as well.
import crypto from "node:crypto";
import type { Vault } from "../vault.js";

export const DEVICE_COOKIE = "patchbay_device";
export const DEVICE_COOKIE_MAX_AGE_S = 365 * 24 * 60 * 60;
const PURPOSE = "device-cookie";

/** A new device cookie value for the account: "<username>.<nonce>.<mac>". */
export function deviceCookieFor(vault: Vault, username: string): string {
  const body = `${Buffer.from(username, "utf8").toString("base64url")}.${crypto.randomBytes(12).toString("base64url")}`;
  return `${body}.${vault.mac(PURPOSE, body)}`;
}

/** Whether the cookie value is one Patchbay issued for this account. */
export function isDeviceCookieFor(vault: Vault, value: string | undefined, username: string): boolean {
  if (!value || value.length > 512) return false;
  const cut = value.lastIndexOf(".");
  if (cut < 0) return false;
  const body = value.slice(0, cut);
  const expected = Buffer.from(vault.mac(PURPOSE, body));
  const given = Buffer.from(value.slice(cut + 1));
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return false;
  return Buffer.from(body.split(".")[0] ?? "", "base64url").toString("utf8") === username;
}
