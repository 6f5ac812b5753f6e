// A fresh PostgreSQL database per test file, on the server PATCHBAY_TEST_POSTGRES_URL names (the
// one .ci/run makes sure answers); dropped afterwards.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { type OpenPostgres, openPostgres } from "../../src/db/postgres.js";

export const ADMIN_URL = process.env.PATCHBAY_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `patchbay_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL does not answer at ${ADMIN_URL} (${(err as Error).message}). Start it (.ci/run shows how), or set PATCHBAY_TEST_POSTGRES_URL to a server where this user may create databases.`,
    );
  }
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: ADMIN_URL });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

/**
 * Several Patchbay processes on one fresh database, as their connection pools: opened before the
 * file's tests, closed (and the database dropped) after them. The array fills in beforeAll.
 */
export function processesOnOneDatabase(count: number): OpenPostgres[] {
  const processes: OpenPostgres[] = [];
  let database: { drop(): Promise<void> } | undefined;
  beforeAll(async () => {
    const fresh = await freshDatabase();
    database = fresh;
    for (let i = 0; i < count; i++) processes.push(await openPostgres(fresh.url));
  });
  afterAll(async () => {
    for (const p of processes) await p.close();
    await database?.drop();
  });
  return processes;
}
