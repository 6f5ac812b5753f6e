// Users: the people who sign in, with their role (admin or member).
import { claimMeta } from "../db/meta.js";
import type { Db, Role, User } from "../db/schema.js";

export async function countUsers(db: Db): Promise<number> {
  const row = await db
    .selectFrom("users")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function countAdmins(db: Db): Promise<number> {
  const row = await db
    .selectFrom("users")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("role", "=", "admin")
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export function findUserByUsername(db: Db, username: string): Promise<User | undefined> {
  return db.selectFrom("users").selectAll().where("username", "=", username.toLowerCase()).executeTakeFirst();
}

export function findUserById(db: Db, id: number): Promise<User | undefined> {
  return db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
}

export function listUsers(db: Db): Promise<User[]> {
  return db.selectFrom("users").selectAll().orderBy("username").execute();
}

/**
 * Creates a user; undefined when the name (or the external identity) is taken, as when two
 * first sign-ins of one person race on two replicas: the caller decides what that means.
 */
export async function createUser(
  db: Db,
  input: { username: string; passwordHash: string; role: Role; externalId?: string },
  now: Date,
): Promise<User | undefined> {
  return db
    .insertInto("users")
    .values({
      username: input.username.toLowerCase(),
      password_hash: input.passwordHash,
      role: input.role,
      external_id: input.externalId ?? null,
      created_at: now.toISOString(),
      password_changed_at: now.toISOString(),
    })
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

/**
 * The first administrator, made by the first-run setup: undefined once anyone has an account.
 * Checked and inserted in one transaction that first claims the setup: two setups at once on
 * PostgreSQL both see no users, and only one claim wins.
 */
export async function createFirstAdmin(db: Db, input: { username: string; passwordHash: string }, now: Date): Promise<User | undefined> {
  return db.transaction().execute(async (trx) => {
    if ((await countUsers(trx)) > 0) return undefined;
    if (!(await claimMeta(trx, "first_admin", input.username))) return undefined;
    return createUser(trx, { ...input, role: "admin" }, now);
  });
}

/**
 * Sets a user's password: their own (a one-time password, if they had one, is gone with it),
 * or a one-time password (reset-password) that signs in once before they must choose their own.
 */
export async function updatePassword(db: Db, userId: number, passwordHash: string, now: Date, oneTime = false): Promise<void> {
  await db
    .updateTable("users")
    .set({ password_hash: passwordHash, password_changed_at: now.toISOString(), must_change_password: oneTime ? 1 : 0 })
    .where("id", "=", userId)
    .execute();
}

export async function updateRole(db: Db, userId: number, role: Role): Promise<void> {
  await db.updateTable("users").set({ role }).where("id", "=", userId).execute();
}

export async function deleteUser(db: Db, userId: number): Promise<void> {
  await db.deleteFrom("users").where("id", "=", userId).execute();
}

/** Keeps a TOTP key being enrolled (sealed), replacing one that was never confirmed. */
export async function setPendingTotpKey(db: Db, userId: number, sealedKey: string | null): Promise<void> {
  await db.updateTable("users").set({ totp_pending_key: sealedKey }).where("id", "=", userId).execute();
}

/** Turns two-step sign-in on with the pending key, the step of the code that confirmed it counting as used. */
export async function enableTotp(db: Db, userId: number, sealedKey: string, step: number, now: Date): Promise<void> {
  await db
    .updateTable("users")
    .set({ totp_key: sealedKey, totp_pending_key: null, totp_enabled_at: now.toISOString(), totp_last_step: step })
    .where("id", "=", userId)
    .execute();
}

export async function disableTotp(db: Db, userId: number): Promise<void> {
  await db.updateTable("users").set({ totp_key: null, totp_pending_key: null, totp_enabled_at: null, totp_last_step: null }).where("id", "=", userId).execute();
}

/**
 * Marks a TOTP time step used, atomically: true only for the first request with a step later
 * than the last one used (two replicas given the same code: one wins).
 */
export async function claimTotpStep(db: Db, userId: number, step: number): Promise<boolean> {
  const result = await db
    .updateTable("users")
    .set({ totp_last_step: step })
    .where("id", "=", userId)
    .where((eb) => eb.or([eb("totp_last_step", "is", null), eb("totp_last_step", "<", step)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
