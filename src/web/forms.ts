// Reading urlencoded/multipart forms into plain strings: the edge where untrusted input
// becomes typed values. Files are not accepted by these forms.
import type { Context } from "hono";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../auth/password.js";
import { weakPasswordReason } from "../auth/weak-passwords.js";

export async function readForm(c: Context): Promise<Record<string, string>> {
  const body = await c.req.parseBody({ all: true });
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) {
    // A multiple choice (a <select multiple>) arrives as repeated keys: kept comma-separated.
    if (typeof value === "string") out[key] = value;
    else if (Array.isArray(value)) out[key] = value.filter((v): v is string => typeof v === "string").join(",");
  }
  return out;
}

const USERNAME = /^[a-z0-9][a-z0-9._@-]{2,63}$/;

export function usernameError(username: string): string | undefined {
  if (!username) return "Enter a username.";
  if (!USERNAME.test(username)) return "Use 3 to 64 characters: lower-case letters, digits, and . _ @ - (starting with a letter or digit).";
  return undefined;
}

export function newPasswordErrors(password: string, confirm: string, username: string): Record<string, string> {
  const errors: Record<string, string> = {};
  const weak = weakPasswordReason(password, username);
  if (password.length < MIN_PASSWORD_LENGTH) errors.password = `Use at least ${MIN_PASSWORD_LENGTH} characters.`;
  else if (password.length > MAX_PASSWORD_LENGTH) errors.password = `Use at most ${MAX_PASSWORD_LENGTH} characters.`;
  else if (weak) errors.password = weak;
  else if (password !== confirm) errors.confirm = "The two passwords do not match.";
  return errors;
}
