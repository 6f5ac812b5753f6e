// Every migration, in order. A static map rather than FileMigrationProvider, whose
// runtime readdir + import() cannot work inside an esbuild bundle. Append only.
import type { Migration } from "kysely";
import * as m0001 from "./0001_initial.js";

export const migrations: Record<string, Migration> = {
  "0001_initial": m0001,
};
