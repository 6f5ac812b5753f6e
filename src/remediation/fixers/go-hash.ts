// go.sum's hashes, computed as the Go toolchain computes them (golang.org/x/mod/sumdb/dirhash,
// Hash1): for each file, sorted by name, a line "<sha256 hex>  <name>\n"; the "h1:" hash is
// the base64 of the SHA-256 of those lines. A module version's own line hashes the files of its
// source archive (named "<module>@<version>/<path>"), its "/go.mod" line the go.mod alone,
// named "go.mod".
import crypto from "node:crypto";
import { unzipSync } from "fflate";

/** More than a module archive holds once unpacked (Go allows 500 MB; Patchbay hashes less). */
const MAX_UNZIPPED_BYTES = 256 * 1024 * 1024;
const MAX_FILES = 50_000;

export class ModuleArchiveError extends Error {}

function hash1(files: { name: string; bytes: Uint8Array }[]): string {
  const sorted = [...files].sort((a, b) => Buffer.compare(Buffer.from(a.name, "utf8"), Buffer.from(b.name, "utf8")));
  const summary = crypto.createHash("sha256");
  for (const f of sorted) {
    if (f.name.includes("\n")) throw new ModuleArchiveError(`a file name in the archive holds a newline`);
    summary.update(`${crypto.createHash("sha256").update(f.bytes).digest("hex")}  ${f.name}\n`);
  }
  return `h1:${summary.digest("base64")}`;
}

/** The "/go.mod" line's hash of a module version's go.mod. */
export function hashGoMod(mod: Uint8Array | string): string {
  return hash1([{ name: "go.mod", bytes: typeof mod === "string" ? Buffer.from(mod, "utf8") : mod }]);
}

/** A module version's hash, over the files of its source archive; every name must start with "<module>@<version>/". */
export function hashModuleZip(zip: Uint8Array, module: string, version: string): string {
  const prefix = `${module}@${version}/`;
  let total = 0;
  let count = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip, {
      filter(file) {
        total += file.originalSize;
        if (++count > MAX_FILES || total > MAX_UNZIPPED_BYTES)
          throw new ModuleArchiveError(`the archive of ${module}@${version} unpacks to more than Patchbay reads`);
        return true;
      },
    });
  } catch (err) {
    if (err instanceof ModuleArchiveError) throw err;
    throw new ModuleArchiveError(`the archive of ${module}@${version} is not a readable zip (${err instanceof Error ? err.message : String(err)})`);
  }
  const list = Object.entries(files).map(([name, bytes]) => ({ name, bytes }));
  const outside = list.find((f) => !f.name.startsWith(prefix));
  if (outside) throw new ModuleArchiveError(`the archive of ${module}@${version} holds ${outside.name.slice(0, 120)}, outside ${prefix}`);
  return hash1(list);
}
