// Repositories known through source control, and matching a scanner's repository name
// to one of them (SCA findings are imported only for repositories Patchbay can reach).
import type { Db, Repository } from "../db/schema.js";

export interface RepositoryIndex {
  match(name: string): Repository | undefined;
}

export async function loadRepositoryIndex(db: Db): Promise<RepositoryIndex> {
  // Every row is a repository an SCM integration gives access to: disconnecting one deletes its rows.
  const rows = await db.selectFrom("repositories").selectAll().execute();
  const byFullName = new Map<string, Repository>();
  const byName = new Map<string, Repository[]>();
  for (const repo of rows) {
    const full = repo.full_name.toLowerCase();
    byFullName.set(full, repo);
    const short = full.slice(full.lastIndexOf("/") + 1);
    byName.set(short, [...(byName.get(short) ?? []), repo]);
  }
  return {
    match(name) {
      const key = name.trim().toLowerCase().replace(/\.git$/, "");
      const exact = byFullName.get(key);
      if (exact) return exact;
      // A bare name matches only when exactly one accessible repository carries it.
      if (!key.includes("/")) {
        const candidates = byName.get(key);
        return candidates?.length === 1 ? candidates[0] : undefined;
      }
      return undefined;
    },
  };
}

export async function addRepository(
  db: Db,
  input: { integrationId: number | null; provider: string; fullName: string; url?: string; externalId?: string },
  now: Date,
): Promise<Repository> {
  const stamp = now.toISOString();
  return db
    .insertInto("repositories")
    .values({
      integration_id: input.integrationId,
      provider: input.provider,
      full_name: input.fullName,
      url: input.url ?? null,
      external_id: input.externalId ?? null,
      created_at: stamp,
      updated_at: stamp,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}
