// Integrations table: one row per connected instance of a connector kind, with
// non-secret settings as JSON and secrets sealed by the vault.
import type { Db, Integration, IntegrationStatus } from "../db/schema.js";
import type { SettingValues } from "../connectors/types.js";

export function listIntegrations(db: Db): Promise<Integration[]> {
  return db.selectFrom("integrations").selectAll().orderBy("kind").orderBy("id").execute();
}

export function findIntegration(db: Db, id: number): Promise<Integration | undefined> {
  return db.selectFrom("integrations").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function insertIntegration(
  db: Db,
  input: { kind: string; name: string; settings: SettingValues; sealedSecrets: string | null },
  now: Date,
): Promise<Integration> {
  const stamp = now.toISOString();
  return db
    .insertInto("integrations")
    .values({
      kind: input.kind,
      name: input.name,
      settings: JSON.stringify(input.settings),
      secrets: input.sealedSecrets,
      status: "connected",
      last_error: null,
      last_sync_at: null,
      created_at: stamp,
      updated_at: stamp,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
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

export async function setIntegrationStatus(db: Db, id: number, status: IntegrationStatus, lastError: string | null, now: Date): Promise<void> {
  await db
    .updateTable("integrations")
    .set({ status, last_error: lastError, updated_at: now.toISOString() })
    .where("id", "=", id)
    .execute();
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
