// Users: the people who sign in, with their role (admin or member).
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

export async function createUser(db: Db, input: { username: string; passwordHash: string; role: Role }, now: Date): Promise<User> {
  return db
    .insertInto("users")
    .values({
      username: input.username.toLowerCase(),
      password_hash: input.passwordHash,
      role: input.role,
      created_at: now.toISOString(),
      password_changed_at: now.toISOString(),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
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
