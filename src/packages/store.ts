// The packages table: what the organisation's package registries publish.
import type { Db } from "../db/schema.js";

const PACKAGE_COLUMNS = [
  "packages.id",
  "packages.ecosystem",
  "packages.name",
  "packages.latest",
  "packages.versions",
  "packages.updated_at",
  "integrations.name as registry",
] as const;

/** Every package our registries list, by name, with the registry's name. */
export function listPackages(db: Db) {
  return db
    .selectFrom("packages")
    .innerJoin("integrations", "integrations.id", "packages.integration_id")
    .select(PACKAGE_COLUMNS)
    .orderBy("packages.name")
    .execute();
}

export function findPackage(db: Db, id: number) {
  return db
    .selectFrom("packages")
    .innerJoin("integrations", "integrations.id", "packages.integration_id")
    .select(PACKAGE_COLUMNS)
    .where("packages.id", "=", id)
    .executeTakeFirst();
}
