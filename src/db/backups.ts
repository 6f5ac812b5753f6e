// Backups of the SQLite database: online copies (consistent while Patchbay runs), each
// checked with integrity_check before it counts, and the scheduled ones pruned to the newest
// few. Used by the daily backup job and by `node dist/server.js backup`.
import fs from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";

/** Scheduled backups kept by default. */
export const DEFAULT_BACKUPS_KEPT = 7;
const SCHEDULED = /^patchbay-\d{4}-\d{2}-\d{2}T[\d-]+Z\.db$/;

/** A backup file's name for a moment: patchbay-2026-12-05T03-10-00-000Z.db. */
export function backupName(now: Date): string {
  return `patchbay-${now.toISOString().replace(/[:.]/g, "-")}.db`;
}

/**
 * Copies the database to `target` online, as one self-contained file readable by its owner
 * only, and checks the copy; a copy that fails the check is removed and the failure thrown.
 */
export async function backupDatabase(databasePath: string, target: string): Promise<void> {
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  const source = new SQLite(databasePath, { readonly: true, timeout: 5000 });
  try {
    await source.backup(target);
  } finally {
    source.close();
  }
  fs.chmodSync(target, 0o600);
  const copy = new SQLite(target);
  try {
    copy.pragma("journal_mode = DELETE");
    const check = copy.pragma("integrity_check", { simple: true });
    if (check !== "ok") throw new Error(`the copy failed SQLite's integrity check (${String(check)})`);
  } catch (err) {
    copy.close();
    fs.rmSync(target, { force: true });
    throw err;
  }
  copy.close();
}

/** Removes scheduled backups beyond the newest `keep` in the folder; gives how many went. Other files are left alone. */
export function pruneBackups(dir: string, keep: number): number {
  if (!fs.existsSync(dir)) return 0;
  const scheduled = fs
    .readdirSync(dir)
    .filter((f) => SCHEDULED.test(f))
    .sort()
    .reverse();
  for (const f of scheduled.slice(keep)) fs.rmSync(path.join(dir, f), { force: true });
  return Math.max(0, scheduled.length - keep);
}
