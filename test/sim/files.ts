// Repository contents for the source control simulators: files by path on the default
// branch, their git blob ids (sha1 of "blob <size>\0<content>", as git computes them), and
// the directories the paths imply.
import crypto from "node:crypto";

export type RepoFiles = Record<string, string>;

export function gitBlobSha(content: string): string {
  const bytes = Buffer.from(content, "utf8");
  return crypto
    .createHash("sha1")
    .update(Buffer.concat([Buffer.from(`blob ${bytes.length}\0`), bytes]))
    .digest("hex");
}

/** Every directory that holds a file, parents first ("a", "a/b"). */
export function directoriesOf(files: RepoFiles): string[] {
  const dirs = new Set<string>();
  for (const path of Object.keys(files)) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  return [...dirs].sort();
}
