// Integrations table: one row per connected instance of a connector kind, with
// non-secret settings as JSON and secrets sealed by the vault.
import { sql } from "kysely";
import { isUniqueViolation } from "../db/dialect.js";
import type { Db, Integration, IntegrationStatus } from "../db/schema.js";
import type { ConnectorCatalogue } from "../connectors/catalogue.js";
import type { Capability, Connector, SettingValues } from "../connectors/types.js";

export function listIntegrations(db: Db): Promise<Integration[]> {
  return db.selectFrom("integrations").selectAll().orderBy("kind").orderBy("id").execute();
}

export function findIntegration(db: Db, id: number): Promise<Integration | undefined> {
  return db.selectFrom("integrations").selectAll().where("id", "=", id).executeTakeFirst();
}

/**
 * Adds a connection under the first free name from `name` ("Jira", then "Jira (2)"…). Two
 * connected at once (two admins, two replicas) may both find a name free: the one whose insert
 * loses takes the next.
 */
export async function insertIntegration(
  db: Db,
  input: { kind: string; name: string; settings: SettingValues; sealedSecrets: string | null },
  now: Date,
): Promise<Integration> {
  const stamp = now.toISOString();
  for (let attempt = 0; ; attempt++) {
    const row = await db
      .insertInto("integrations")
      .values({
        kind: input.kind,
        name: await uniqueName(db, input.name),
        settings: JSON.stringify(input.settings),
        secrets: input.sealedSecrets,
        status: "connected",
        last_error: null,
        last_sync_at: null,
        created_at: stamp,
        updated_at: stamp,
      })
      .onConflict((oc) => oc.doNothing())
      .returningAll()
      .executeTakeFirst();
    if (row) return row;
    if (attempt >= 20) throw new Error(`No free name for a new ${input.kind} connection after ${attempt} tries: rename some connections and connect again.`);
  }
}

export async function updateIntegrationSettings(
  db: Db,
  id: number,
  input: { settings: SettingValues; sealedSecrets: string | null },
  now: Date,
): Promise<void> {
  await db
    .updateTable("integrations")
    .set({
      settings: JSON.stringify(input.settings),
      secrets: input.sealedSecrets,
      status: "connected",
      last_error: null,
      updated_at: now.toISOString(),
    })
    .where("id", "=", id)
    .execute();
}

/**
 * Sets some of an integration's settings, keeping the others (read afresh: a form may have
 * saved since the caller loaded it). Writes nothing when they hold those values already.
 */
export async function mergeIntegrationSettings(db: Db, id: number, patch: Record<string, SettingValues[string] | null | undefined>): Promise<void> {
  const row = await db.selectFrom("integrations").select("settings").where("id", "=", id).executeTakeFirst();
  if (!row) return;
  const settings = JSON.parse(row.settings) as SettingValues;
  if (Object.entries(patch).every(([k, v]) => (settings[k] ?? null) === (v ?? null))) return;
  await db
    .updateTable("integrations")
    .set({ settings: JSON.stringify({ ...settings, ...patch }) })
    .where("id", "=", id)
    .execute();
}

/** Replaces an integration's sealed secrets (a webhook secret Patchbay made, say). */
export async function setIntegrationSecrets(db: Db, id: number, sealedSecrets: string, now: Date): Promise<void> {
  await db.updateTable("integrations").set({ secrets: sealedSecrets, updated_at: now.toISOString() }).where("id", "=", id).execute();
}

export async function setIntegrationStatus(db: Db, id: number, status: IntegrationStatus, lastError: string | null, now: Date): Promise<void> {
  await db.updateTable("integrations").set({ status, last_error: lastError, updated_at: now.toISOString() }).where("id", "=", id).execute();
}

/** A sync finished: connected, no error, synced now. */
export async function markSynced(db: Db, id: number, now: Date): Promise<void> {
  const stamp = now.toISOString();
  await db.updateTable("integrations").set({ status: "connected", last_error: null, last_sync_at: stamp, updated_at: stamp }).where("id", "=", id).execute();
}

/** Stores the outcome of the latest health check (JSON the card reads). */
export async function setIntegrationHealth(db: Db, id: number, health: string): Promise<void> {
  await db.updateTable("integrations").set({ health }).where("id", "=", id).execute();
}

/** Replaces settings and sealed secrets together (refreshed OAuth tokens). */
export async function setIntegrationCredentials(db: Db, id: number, settings: SettingValues, sealedSecrets: string, now: Date): Promise<void> {
  await db
    .updateTable("integrations")
    .set({ settings: JSON.stringify(settings), secrets: sealedSecrets, updated_at: now.toISOString() })
    .where("id", "=", id)
    .execute();
}

/**
 * Takes the integration's token-refresh lock until `until` (ISO), unless another process holds
 * it; true when this one has it. A lock whose holder died lapses at its time.
 */
export async function claimTokenRefresh(db: Db, id: number, now: Date, until: Date): Promise<boolean> {
  const result = await db
    .updateTable("integrations")
    .set({ refresh_lock_until: until.toISOString() })
    .where("id", "=", id)
    .where((eb) => eb.or([eb("refresh_lock_until", "is", null), eb("refresh_lock_until", "<", now.toISOString())]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function releaseTokenRefresh(db: Db, id: number): Promise<void> {
  await db.updateTable("integrations").set({ refresh_lock_until: null }).where("id", "=", id).execute();
}

/** The longest name a connection may have. */
export const MAX_NAME_LENGTH = 80;

/** The connection holding this name (ignoring case), if any. */
export function integrationNamed(db: Db, name: string): Promise<Integration | undefined> {
  return db
    .selectFrom("integrations")
    .selectAll()
    .where(sql<string>`lower(name)`, "=", name.toLowerCase())
    .executeTakeFirst();
}

/** The name itself when no connection holds it, else the first free "name (2)", "name (3)"… */
async function uniqueName(db: Db, base: string): Promise<string> {
  for (let n = 1; ; n++) {
    const name = n === 1 ? base : `${base} (${n})`;
    if (!(await integrationNamed(db, name))) return name;
  }
}

/** Names a connection was known by before (configuration documents may still use them). */
export function formerNames(integration: Pick<Integration, "former_names">): string[] {
  try {
    const names = JSON.parse(integration.former_names) as unknown;
    return Array.isArray(names) ? names.filter((n): n is string => typeof n === "string") : [];
  } catch {
    return [];
  }
}

/** Why this can't be a connection's name, or undefined when it can. */
export function nameProblem(name: string): string | undefined {
  if (!name) return "Enter a name.";
  if (name.length > MAX_NAME_LENGTH) return `Use at most ${MAX_NAME_LENGTH} characters.`;
  if (/[\u0000-\u001f\u007f]/.test(name)) return "Use letters, digits, spaces and punctuation only.";
  return undefined;
}

/** Renames a connection, keeping its former name; gives why not (an invalid or taken name), or undefined when renamed. */
export async function renameIntegration(db: Db, id: number, wanted: string): Promise<string | undefined> {
  const name = wanted.trim();
  const problem = nameProblem(name);
  if (problem) return problem;
  const current = await findIntegration(db, id);
  if (!current) return "This connection no longer exists.";
  if (current.name === name) return undefined;
  const holder = await integrationNamed(db, name);
  if (holder && holder.id !== id) return `Another connection is already named "${holder.name}": choose another name.`;
  const former = [...new Set([...formerNames(current), current.name])].filter((n) => n.toLowerCase() !== name.toLowerCase());
  try {
    await db
      .updateTable("integrations")
      .set({ name, former_names: JSON.stringify(former.slice(-20)) })
      .where("id", "=", id)
      .execute();
  } catch (err) {
    // Another connection took the name between the check and the rename (another admin, another replica).
    if (isUniqueViolation(err)) return `Another connection is already named "${name}": choose another name.`;
    throw err;
  }
  return undefined;
}

/** Removes the integration and, with its row, its stored credentials. */
export async function deleteIntegration(db: Db, id: number): Promise<void> {
  await db.deleteFrom("integrations").where("id", "=", id).execute();
}

export function integrationSettings(integration: Integration): SettingValues {
  return JSON.parse(integration.settings) as SettingValues;
}

/** The first integration of a kind (a kind that is connected once: the CI upload endpoint). */
export async function integrationOfKind(db: Db, kind: string): Promise<Integration | undefined> {
  return db.selectFrom("integrations").selectAll().where("kind", "=", kind).executeTakeFirst();
}

/** A connector known to have these parts. */
export type ConnectorWith<F extends Capability> = Connector & { [P in F]-?: NonNullable<Connector[P]> };

/** A connected integration with the connector that serves it. */
export interface Connected<F extends Capability = never> {
  integration: Integration;
  connector: ConnectorWith<F>;
}

function connected<F extends Capability>(catalogue: ConnectorCatalogue, integration: Integration, facet: F | undefined): Connected<F> | undefined {
  const connector = catalogue.get(integration.kind);
  if (!connector || (facet && !connector[facet])) return undefined;
  return { integration, connector: connector as ConnectorWith<F> };
}

/**
 * One integration with its connector, when the catalogue still implements its kind and (with
 * `facet`) the connector has that capability: a tracker's page asks for "tracker", a sync job
 * for "scm". Undefined otherwise, as for an id that is not there.
 */
export async function loadConnected<F extends Capability = never>(
  db: Db,
  catalogue: ConnectorCatalogue,
  id: number,
  facet?: F,
): Promise<Connected<F> | undefined> {
  const integration = Number.isSafeInteger(id) ? await findIntegration(db, id) : undefined;
  return integration && connected(catalogue, integration, facet);
}

/** Every integration whose connector has this capability, by name. */
export async function listConnected<F extends Capability>(db: Db, catalogue: ConnectorCatalogue, facet: F): Promise<Connected<F>[]> {
  const rows = await db.selectFrom("integrations").selectAll().orderBy("name").orderBy("id").execute();
  return rows.flatMap((row) => connected(catalogue, row, facet) ?? []);
}
