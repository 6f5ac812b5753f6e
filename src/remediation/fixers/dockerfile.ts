// Dockerfile base images: the FROM line of the final stage moved to a higher tag of the same image
// repository, with the same variant suffix and major version ("20.11.1-alpine3.19" →
// "20.12.2-alpine3.19", never "21…" or "-bookworm"), and the digest the scan reported pinned
// where the original pinned one. Which tag is the caller's evidence: a digest a scanner or an
// upload reported on without the CVE. Only the reference's characters change.
import { type FixOutcome, cannot } from "./types.js";

/** An image reference, normalised as Docker resolves it (docker.io, library/ for official images). */
export interface ImageReference {
  /** "docker.io/library/node". */
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

const REFERENCE = /^(?:([a-zA-Z0-9.-]+(?::\d+)?)\/)?([a-z0-9._/-]+)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$/;

export function parseImageReference(text: string): ImageReference | undefined {
  const m = REFERENCE.exec(text.trim());
  if (!m) return undefined;
  let host = m[1];
  let path = m[2]!;
  // A first component without a dot, a colon or "localhost" is a Docker Hub namespace, not a host.
  if (host && !host.includes(".") && !host.includes(":") && host !== "localhost") {
    path = `${host}/${path}`;
    host = undefined;
  }
  if (!host || host === "index.docker.io" || host === "registry-1.docker.io") {
    host = "docker.io";
    if (!path.includes("/")) path = `library/${path}`;
  }
  return { repository: `${host.toLowerCase()}/${path}`, tag: m[3], digest: m[4] };
}

/** A tag's version: its numbers, and the rest as the variant ("20.11.1-alpine3.19" → [20, 11, 1], "-alpine3.19"). */
export function tagVersion(tag: string): { numbers: number[]; variant: string; prefix: string } | undefined {
  const m = /^(v?)(\d{1,9}(?:\.\d{1,9}){0,3})(.*)$/.exec(tag);
  if (!m) return undefined;
  return { prefix: m[1]!, numbers: m[2]!.split(".").map(Number), variant: m[3]! };
}

function compareNumbers(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return a.length - b.length;
}

/** Whether `candidate` is a higher tag of the same line: same prefix, variant and major version. */
export function higherTagOfLine(current: string, candidate: string): boolean {
  const a = tagVersion(current);
  const b = tagVersion(candidate);
  if (!a || !b || a.prefix !== b.prefix || a.variant !== b.variant || a.numbers[0] !== b.numbers[0]) return false;
  // Same precision: "20.11" moves to "20.12", not to the more specific "20.12.1" (another line of tags).
  return a.numbers.length === b.numbers.length && compareNumbers(b.numbers, a.numbers) > 0;
}

export function compareTags(a: string, b: string): number {
  return compareNumbers(tagVersion(a)?.numbers ?? [], tagVersion(b)?.numbers ?? []);
}

/** The final stage's FROM: the line it is on, where its image reference is, and the reference. */
export interface BaseImage {
  line: number;
  start: number;
  end: number;
  text: string;
  reference: ImageReference;
}

/** The base image of a Dockerfile's final stage, or why it cannot be moved. */
export function finalBaseImage(path: string, text: string): BaseImage | { reason: string } {
  const lines = text.split("\n");
  if (/^#\s*escape\s*=\s*`/im.test(lines.slice(0, 5).join("\n")))
    return { reason: `${path} uses \` as its escape character: Patchbay reads Dockerfiles with the default one.` };
  const stages = new Set<string>();
  let last: { line: number; start: number; end: number; text: string } | undefined;
  for (const [n, line] of lines.entries()) {
    let i = 0;
    while (line[i] === " " || line[i] === "\t") i++;
    if (line.slice(i, i + 4).toUpperCase() !== "FROM" || !(line[i + 4] === " " || line[i + 4] === "\t")) continue;
    i += 4;
    const words: { text: string; start: number }[] = [];
    while (i < line.length) {
      while (line[i] === " " || line[i] === "\t" || line[i] === "\r") i++;
      if (i >= line.length) break;
      const start = i;
      while (i < line.length && line[i] !== " " && line[i] !== "\t" && line[i] !== "\r") i++;
      words.push({ text: line.slice(start, i), start });
    }
    const image = words.find((w) => !w.text.startsWith("--"));
    if (!image) continue;
    const as = words.findIndex((w) => w.text.toUpperCase() === "AS");
    if (as >= 0 && words[as + 1]) stages.add(words[as + 1]!.text.toLowerCase());
    if (words.at(-1)?.text === "\\") return { reason: `${path}: a FROM line continues on the next line; Patchbay moves single-line FROM instructions.` };
    last = { line: n, start: image.start, end: image.start + image.text.length, text: image.text };
  }
  if (!last) return { reason: `${path} has no FROM instruction.` };
  if (last.text.includes("$")) return { reason: `${path}'s final FROM (${last.text}) is set by a build argument: Patchbay cannot tell which image it is.` };
  if (stages.has(last.text.toLowerCase())) return { reason: `${path}'s final stage builds on an earlier stage (${last.text}), not on a base image.` };
  const reference = parseImageReference(last.text);
  if (!reference) return { reason: `${path}'s final FROM (${last.text.slice(0, 120)}) is not an image reference Patchbay reads.` };
  if (!reference.tag) return { reason: `${path}'s final FROM (${last.text}) names no tag: there is no line of versions to move along.` };
  return { ...last, reference };
}

/** The Dockerfile with its final FROM moved to `tag` (and `digest`, where the original pinned one). */
export function moveBaseImage(path: string, text: string, base: BaseImage, tag: string, digest: string): FixOutcome {
  const original = base.text;
  const at = original.indexOf("@");
  const withoutDigest = at >= 0 ? original.slice(0, at) : original;
  const colon = withoutDigest.lastIndexOf(":");
  if (colon < 0 || withoutDigest.slice(colon + 1) !== base.reference.tag) return cannot(`${path}'s final FROM (${original}) could not be rewritten.`);
  const moved = `${withoutDigest.slice(0, colon + 1)}${tag}${at >= 0 ? `@${digest}` : ""}`;
  const lines = text.split("\n");
  const line = lines[base.line]!;
  lines[base.line] = line.slice(0, base.start) + moved + line.slice(base.end);
  return {
    ok: true,
    changes: [{ path, before: text, after: lines.join("\n") }],
    how: `the final stage's FROM in ${path}: ${original} → ${moved}${at >= 0 ? " (the digest the scan reported, pinned as before)" : ""}`,
  };
}
