// Reading urlencoded/multipart forms into plain strings: the edge where untrusted input
// becomes typed values. Files are not accepted by these forms.
import type { Context } from "hono";

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

export function newPasswordErrors(password: string, confirm: string, min: number, max: number): Record<string, string> {
  const errors: Record<string, string> = {};
  if (password.length < min) errors.password = `Use at least ${min} characters.`;
  else if (password.length > max) errors.password = `Use at most ${max} characters.`;
  else if (password !== confirm) errors.confirm = "The two passwords do not match.";
  return errors;
}
