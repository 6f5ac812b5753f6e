// Storage that cannot take another write: the disk is full, or the database reached its size
// limit. Told apart from other failures so that people read what to do (free space), API
// clients get JSON, and /healthz says so while liveness stays up.
import fs from "node:fs";
import type SQLite from "better-sqlite3";

/** Below this much free space on the data directory's disk, writes are about to fail. */
const LOW_DISK_BYTES = 16 * 1024 * 1024;

/** SQLite's SQLITE_FULL (disk or size limit), PostgreSQL's 53100 disk_full, Node's ENOSPC. */
export function isStorageFull(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  return e?.code === "SQLITE_FULL" || e?.code === "53100" || e?.code === "ENOSPC" || /database or disk is full/i.test(e?.message ?? "");
}

export const STORAGE_FULL_MESSAGE =
  "Patchbay's database cannot take another write: the disk (or the database's size limit) is full. Nothing of this request was saved. Free space on the data directory's disk, then try again.";

/** Why the database cannot be written now, or undefined when it can. Reads only. */
export function storageProblem(sqlite: SQLite.Database, dataDir: string): string | undefined {
  const pages = Number(sqlite.pragma("page_count", { simple: true }));
  const limit = Number(sqlite.pragma("max_page_count", { simple: true }));
  const free = Number(sqlite.pragma("freelist_count", { simple: true }));
  if (pages >= limit && free === 0) return "the database reached its size limit (max_page_count): it cannot grow";
  try {
    const disk = fs.statfsSync(dataDir);
    if (disk.bavail * disk.bsize < LOW_DISK_BYTES) return `the disk holding ${dataDir} is full (${Math.round((disk.bavail * disk.bsize) / 1024)} KB left)`;
  } catch {
    // A filesystem that cannot tell its free space: nothing to report.
  }
  return undefined;
}
