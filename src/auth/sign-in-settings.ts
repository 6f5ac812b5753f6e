// How people sign in, set by an administrator on Settings → Sign-in: whether local accounts must
// use two-step sign-in. Kept in the meta table (every replica reads the same).
import { readMeta, writeMeta } from "../db/meta.js";
import type { Db } from "../db/schema.js";

const KEY = "sign_in_settings";

export interface SignInSettings {
  /** Local accounts must turn on two-step sign-in before using Patchbay. */
  requireTotp: boolean;
}

const DEFAULTS: SignInSettings = { requireTotp: false };

export async function loadSignInSettings(db: Db): Promise<SignInSettings> {
  const text = await readMeta(db, KEY);
  if (!text) return { ...DEFAULTS };
  const stored = JSON.parse(text) as Partial<SignInSettings>;
  return { requireTotp: stored.requireTotp === true };
}

export async function saveSignInSettings(db: Db, settings: SignInSettings): Promise<void> {
  await writeMeta(db, KEY, JSON.stringify(settings));
}
