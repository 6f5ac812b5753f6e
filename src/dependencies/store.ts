// The repository_dependencies table, as the Packages page reads it: every dependency the
// repositories' manifests resolve.
import type { Db } from "../db/schema.js";
import { contains } from "../db/search.js";

export interface PackageName {
  ecosystem: string;
  name: string;
}

/** Which repositories use which version of these packages. */
export function usesOf(db: Db, packages: PackageName[]): Promise<{ ecosystem: string; name: string; version: string; repository_id: number }[]> {
  if (packages.length === 0) return Promise.resolve([]);
  return db
    .selectFrom("repository_dependencies")
    .select(["ecosystem", "name", "version", "repository_id"])
    .where((eb) => eb.or(packages.map((p) => eb.and([eb("ecosystem", "=", p.ecosystem), eb("name", "=", p.name)]))))
    .execute();
}

/** One package's uses, by repository: where each repository's manifest names it, at which version. */
export function usersOf(db: Db, pkg: PackageName) {
  return db
    .selectFrom("repository_dependencies")
    .innerJoin("repositories", "repositories.id", "repository_dependencies.repository_id")
    .select(["repositories.full_name", "repositories.url", "repository_dependencies.path", "repository_dependencies.version"])
    .where("repository_dependencies.ecosystem", "=", pkg.ecosystem)
    .where("repository_dependencies.name", "=", pkg.name)
    .orderBy("repositories.full_name")
    .execute();
}

export interface DependencyHit {
  full_name: string;
  url: string | null;
  path: string;
  ecosystem: string;
  name: string;
  version: string;
  direct: number | null;
  scope: string | null;
  via: string | null;
}

/** Dependencies whose name holds `q` (any case), by name then repository, at most `limit`. */
export function searchDependencies(db: Db, q: string, limit: number): Promise<DependencyHit[]> {
  return db
    .selectFrom("repository_dependencies")
    .innerJoin("repositories", "repositories.id", "repository_dependencies.repository_id")
    .select([
      "repositories.full_name",
      "repositories.url",
      "repository_dependencies.path",
      "repository_dependencies.ecosystem",
      "repository_dependencies.name",
      "repository_dependencies.version",
      "repository_dependencies.direct",
      "repository_dependencies.scope",
      "repository_dependencies.via",
    ])
    .where(contains("repository_dependencies.name", q.toLowerCase()))
    .orderBy("repository_dependencies.name")
    .orderBy("repositories.full_name")
    .limit(limit)
    .execute();
}

export async function countDependencies(db: Db): Promise<number> {
  const row = await db
    .selectFrom("repository_dependencies")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
