// The meta table: small named values (settings documents, cursors, timestamps) by key.
import type { Db } from "./schema.js";

export async function readMeta(db: Db, key: string): Promise<string | undefined> {
  return (await db.selectFrom("meta").select("value").where("key", "=", key).executeTakeFirst())?.value;
}

/** Sets a value, creating its key or replacing what it held. */
export async function writeMeta(db: Db, key: string, value: string): Promise<void> {
  await db
    .insertInto("meta")
    .values({ key, value })
    .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
    .execute();
}

/** Writes the key only if it is not there yet: true for the one writer that did (the others, at once or later, get false). */
export async function claimMeta(db: Db, key: string, value: string): Promise<boolean> {
  const row = await db
    .insertInto("meta")
    .values({ key, value })
    .onConflict((oc) => oc.doNothing())
    .returning("key")
    .executeTakeFirst();
  return row !== undefined;
}

/** Removes a key (a value that no longer applies). */
export async function deleteMeta(db: Db, key: string): Promise<void> {
  await db.deleteFrom("meta").where("key", "=", key).execute();
}
