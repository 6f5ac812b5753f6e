// Remediation settings: whether Patchbay opens fix pull requests by itself. The default holds for
// every repository (Settings → Remediation); a repository's own setting wins over it, field by
// field. Modes: off (only an admin's "Open pull request" on a proposal), hybrid (the fix sweep
// proposes, and fixes wait on the Fixes to approve page for an admin), automated (opened as soon
// as a fixable finding appears, at most `maxOpen` fix pull requests open per repository).
import type { Db } from "../db/schema.js";
import { readMeta, writeMeta } from "../db/meta.js";
import { REMEDIATION_DEFAULTS_KEY as KEY } from "../jobs/events.js";

export const REMEDIATION_MODES = ["off", "hybrid", "automated"] as const;
export type RemediationMode = (typeof REMEDIATION_MODES)[number];

export interface RemediationSettings {
  mode: RemediationMode;
  /** Fix pull requests Patchbay keeps open at once in one repository (automated mode). */
  maxOpen: number;
  /** Open them as drafts (where the service has drafts) rather than ready for review. */
  draft: boolean;
  /** Propose a fix whose version is a new major version (may break the build). */
  majorUpgrades: boolean;
}

export type RemediationOverride = Partial<RemediationSettings>;

export const REMEDIATION_DEFAULTS: RemediationSettings = { mode: "off", maxOpen: 5, draft: false, majorUpgrades: false };
export const MAX_OPEN_LIMIT = 50;

export const MODE_LABEL: Record<RemediationMode, string> = {
  off: "Off — fixes are opened only from a proposal, by an admin",
  hybrid: "Hybrid — fixes wait on Fixes to approve for an admin",
  automated: "Automated — fixes are opened as soon as a fixable finding appears",
};

/** Only the fields a stored document holds correctly; anything else is the default's. */
function readDocument(json: string | null | undefined): RemediationOverride {
  if (!json) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return {};
  }
  if (!raw || typeof raw !== "object") return {};
  const o = raw as Record<string, unknown>;
  const out: RemediationOverride = {};
  if (typeof o.mode === "string" && (REMEDIATION_MODES as readonly string[]).includes(o.mode)) out.mode = o.mode as RemediationMode;
  if (typeof o.maxOpen === "number" && Number.isInteger(o.maxOpen) && o.maxOpen >= 1 && o.maxOpen <= MAX_OPEN_LIMIT) out.maxOpen = o.maxOpen;
  if (typeof o.draft === "boolean") out.draft = o.draft;
  if (typeof o.majorUpgrades === "boolean") out.majorUpgrades = o.majorUpgrades;
  return out;
}

export async function loadRemediationDefaults(db: Db): Promise<RemediationSettings> {
  return { ...REMEDIATION_DEFAULTS, ...readDocument(await readMeta(db, KEY)) };
}

export async function saveRemediationDefaults(db: Db, settings: RemediationSettings): Promise<void> {
  await writeMeta(db, KEY, JSON.stringify(settings));
}

export function parseRemediationOverride(json: string | null): RemediationOverride {
  return readDocument(json);
}

/** A repository's settings: its own fields over the default's, and which fields are its own. */
export interface EffectiveRemediation {
  settings: RemediationSettings;
  own: RemediationOverride;
}

export function effective(defaults: RemediationSettings, own: RemediationOverride): EffectiveRemediation {
  return { settings: { ...defaults, ...own }, own };
}

export async function repositoryRemediation(db: Db, repositoryId: number): Promise<EffectiveRemediation> {
  const row = await db.selectFrom("repositories").select("remediation").where("id", "=", repositoryId).executeTakeFirst();
  return effective(await loadRemediationDefaults(db), parseRemediationOverride(row?.remediation ?? null));
}

export async function saveRepositoryRemediation(db: Db, repositoryId: number, own: RemediationOverride): Promise<void> {
  const value = Object.keys(own).length ? JSON.stringify(own) : null;
  await db.updateTable("repositories").set({ remediation: value }).where("id", "=", repositoryId).execute();
}

/** The repositories where the sweep has work (their effective mode is not off), with their settings. */
export async function activeRepositories(db: Db): Promise<{ id: number; settings: RemediationSettings }[]> {
  const defaults = await loadRemediationDefaults(db);
  let query = db.selectFrom("repositories").select(["id", "remediation"]).where("archived", "=", 0).where("accessible", "=", 1);
  // With the default off, only repositories with a setting of their own can be on.
  if (defaults.mode === "off") query = query.where("remediation", "is not", null);
  const rows = await query.orderBy("id").execute();
  return rows
    .map((r) => ({ id: r.id, settings: effective(defaults, parseRemediationOverride(r.remediation)).settings }))
    .filter((r) => r.settings.mode !== "off");
}

/**
 * A settings form's values: the mode, the open pull requests at most, draft and major upgrades.
 * With `inherit`, an empty or "default" field is left to the default (a repository's form).
 */
export function readSettingsForm(form: Record<string, string | undefined>, inherit: boolean): { value: RemediationOverride; errors: Record<string, string> } {
  const value: RemediationOverride = {};
  const errors: Record<string, string> = {};
  const mode = (form.mode ?? "").trim();
  if ((REMEDIATION_MODES as readonly string[]).includes(mode)) value.mode = mode as RemediationMode;
  else if (!(inherit && (mode === "" || mode === "default"))) errors.mode = "Choose off, hybrid or automated.";
  const maxOpen = (form.maxOpen ?? "").trim();
  if (maxOpen) {
    const n = Number(maxOpen);
    if (Number.isInteger(n) && n >= 1 && n <= MAX_OPEN_LIMIT) value.maxOpen = n;
    else errors.maxOpen = `Enter a whole number from 1 to ${MAX_OPEN_LIMIT}${inherit ? ", or leave it empty for the default" : ""}.`;
  } else if (!inherit) errors.maxOpen = `Enter a whole number from 1 to ${MAX_OPEN_LIMIT}.`;
  for (const name of ["draft", "majorUpgrades"] as const) {
    const raw = (form[name] ?? "").trim();
    if (raw === "yes" || raw === "no") value[name] = raw === "yes";
    else if (!inherit) value[name] = false;
    else if (raw !== "" && raw !== "default") errors[name] = "Choose yes, no or the default.";
  }
  return { value, errors };
}
