// CODEOWNERS: where the file lives on each source control, how its lines read, and which
// owners a path has. GitHub's and Bitbucket's rule is "the last matching pattern wins";
// GitLab adds sections ("[Backend] @team"), each contributing its own last match, so a
// path may have owners from several sections. Patterns follow gitignore: a leading "/"
// (or a slash inside) anchors at the root, "*" stays within a directory, "**" crosses
// them, a trailing "/" means everything beneath, and a bare name matches at any depth.

import { isEmailAddress, trimEnd, trimStart, words } from "../text.js";

export interface CodeownersRule {
  pattern: string;
  owners: string[];
  /** GitLab section name; "" outside any section. */
  section: string;
  line: number;
}

export interface Codeowners {
  path: string;
  sha: string | null;
  rules: CodeownersRule[];
  /** Lines that could not be read, for the repository's ownership page. */
  problems: string[];
}

/** An owner as CODEOWNERS writes them: @user, @org/team, @group/subgroup, or an e-mail address. */
export function isOwner(text: string): boolean {
  return /^@[\w.-]+(?:\/[\w./-]+)?$/.test(text) || isEmailAddress(text);
}

const MAX_RULES = 2_000;
/** A pattern longer than any real path is not matched (and not compiled). */
const MAX_PATTERN_LENGTH = 1_024;

export function parseCodeowners(text: string, path: string, sha: string | null): Codeowners {
  const rules: CodeownersRule[] = [];
  const problems: string[] = [];
  let section = "";
  let sectionOwners: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length && rules.length < MAX_RULES; i++) {
    const line = stripComment(lines[i]!).trim();
    if (!line) continue;
    // GitLab section headers: [Name], ^[Optional], [Name][2] @default-owners
    const header = sectionHeader(line);
    if (header) {
      section = header.name;
      sectionOwners = header.owners.filter(isOwner);
      continue;
    }
    const tokens = splitPattern(line);
    const pattern = tokens[0]!;
    const owners = tokens.slice(1);
    const bad = owners.filter((o) => !isOwner(o));
    if (bad.length) problems.push(`Line ${i + 1}: ${bad.map((b) => `"${b}"`).join(", ")} is not a user, team or e-mail address.`);
    const good = owners.filter(isOwner);
    rules.push({ pattern, owners: good.length || owners.length ? good : sectionOwners, section, line: i + 1 });
  }
  return { path, sha, rules, problems };
}

/** GitLab's section headers: "[Name]", "^[Optional]", "[Name][2] @default-owners". */
function sectionHeader(line: string): { name: string; owners: string[] } | undefined {
  const open = line.startsWith("^[") ? 1 : line.startsWith("[") ? 0 : -1;
  const close = open < 0 ? -1 : line.indexOf("]", open + 1);
  if (close <= open + 1) return undefined;
  let rest = line.slice(close + 1);
  // An optional approvals count: "[2]".
  const count = /^\[\d+\]/.exec(rest);
  if (count) rest = rest.slice(count[0].length);
  return { name: line.slice(open + 1, close).trim(), owners: words(rest) };
}

function stripComment(line: string): string {
  // "#" starts a comment unless escaped ("\#file").
  for (let i = 0; i < line.length; i++) {
    if (line[i] === "\\") i++;
    else if (line[i] === "#") return line.slice(0, i);
  }
  return line;
}

function splitPattern(line: string): string[] {
  // A pattern may contain escaped spaces ("My\ Docs/").
  const out: string[] = [];
  let current = "";
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === "\\" && i + 1 < line.length) {
      current += line[++i];
    } else if (/\s/.test(ch)) {
      if (current) out.push(current);
      current = "";
    } else current += ch;
  }
  if (current) out.push(current);
  return out;
}

interface Glob {
  /** Path segments to match, "**" for any number of whole segments. */
  segments: string[];
  /** Anchored at the root ("/docs", "docs/api") or matching at any depth ("*.js", "docs"). */
  anchored: boolean;
  /** "dir/": only what is beneath; "docs/*": only files directly inside; else the path or anything beneath it. */
  end: "beneath" | "exact" | "self-or-beneath";
}

const compiled = new Map<string, Glob>();

/**
 * Whether a CODEOWNERS pattern matches a path, as gitignore matches. Matching works on path
 * segments with the two-pointer wildcard algorithm (no regular expression is built from the
 * pattern, so a pattern written to backtrack cannot stall Patchbay).
 */
export function patternMatches(pattern: string, path: string): boolean {
  if (pattern.length > MAX_PATTERN_LENGTH) return false;
  let glob = compiled.get(pattern);
  if (!glob) {
    glob = toGlob(pattern);
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(pattern, glob);
  }
  const target = trimStart(path, "/").split("/");
  if (glob.segments.length === 0) return true;
  const pattern_ = glob.anchored ? glob.segments : ["**", ...glob.segments];
  if (glob.end === "exact") return segmentsMatch(pattern_, target);
  // A directory pattern owns what is beneath it: it matches one of the path's leading parts.
  for (let k = glob.end === "beneath" ? target.length - 1 : target.length; k >= 1; k--) {
    if (segmentsMatch(pattern_, target.slice(0, k))) return true;
  }
  return false;
}

function toGlob(pattern: string): Glob {
  const directory = pattern.endsWith("/");
  const body = trimEnd(pattern, "/");
  const inner = trimStart(body, "/");
  const anchored = body.startsWith("/") || inner.includes("/");
  // "**" is special only as a whole segment (gitignore); "a**b" is "a*b".
  const segments = inner
    .split("/")
    .filter(Boolean)
    .map((seg) => (seg === "**" ? seg : seg.replace(/\*\*+/g, "*")))
    .filter((seg, i, all) => !(seg === "**" && all[i - 1] === "**"));
  if (segments.length === 1 && segments[0] === "**") return { segments: [], anchored: true, end: "self-or-beneath" };
  // "docs/**" is everything beneath docs.
  if (segments.at(-1) === "**" && segments.length > 1) return { segments: segments.slice(0, -1), anchored: true, end: "beneath" };
  const end = directory ? "beneath" : inner.endsWith("/*") ? "exact" : "self-or-beneath";
  return { segments, anchored, end };
}

/**
 * Path segments: "**" matches any run of segments, other pattern segments one segment each.
 * Greedy matching with backtracking to the last "**" only: at most pattern segments × path
 * segments comparisons (both a few dozen at most).
 */
function segmentsMatch(pattern: string[], path: string[]): boolean {
  let p = 0;
  let t = 0;
  let lastStar = -1;
  let resume = 0;
  while (t < path.length) {
    if (p < pattern.length && pattern[p] !== "**" && segmentMatches(pattern[p]!, path[t]!)) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === "**") {
      lastStar = p++;
      resume = t;
    } else if (lastStar >= 0) {
      p = lastStar + 1;
      t = ++resume;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === "**") p++;
  return p === pattern.length;
}

/** Whether the text holds the chunk at `at` ("?" in the chunk stands for any character). */
function chunkAt(text: string, chunk: string, at: number): boolean {
  if (at < 0 || at + chunk.length > text.length) return false;
  for (let i = 0; i < chunk.length; i++) if (chunk[i] !== "?" && chunk[i] !== text[at + i]) return false;
  return true;
}

/** The first place at or after `from` where the chunk ends by `end`, or -1. */
function findChunk(text: string, chunk: string, from: number, end: number): number {
  if (!chunk.includes("?")) {
    const at = text.indexOf(chunk, from);
    return at >= 0 && at + chunk.length <= end ? at : -1;
  }
  for (let at = from; at + chunk.length <= end; at++) if (chunkAt(text, chunk, at)) return at;
  return -1;
}

/**
 * One segment against a pattern segment: "*" any run of characters, "?" one. The pattern is
 * cut at its stars; the first piece must start the text, the last end it, and the ones between
 * are found leftmost in order — which is enough for wildcards, and never backtracks.
 */
function segmentMatches(pattern: string, text: string): boolean {
  const chunks = pattern.split("*");
  if (chunks.length === 1) return pattern.length === text.length && chunkAt(text, pattern, 0);
  const first = chunks[0]!;
  const last = chunks.at(-1)!;
  if (first.length + last.length > text.length || !chunkAt(text, first, 0) || !chunkAt(text, last, text.length - last.length)) return false;
  let at = first.length;
  const end = text.length - last.length;
  for (const chunk of chunks.slice(1, -1)) {
    if (!chunk) continue;
    const found = findChunk(text, chunk, at, end);
    if (found < 0) return false;
    at = found + chunk.length;
  }
  return true;
}

/**
 * The owners of a path: the last matching rule (per GitLab section), in the file's order.
 * With no path (a finding that names no file), the owners of the repository root's files.
 */
export function ownersOf(codeowners: Pick<Codeowners, "rules">, path: string | null): string[] {
  const target = path ?? "__patchbay_root_file__";
  const bySection = new Map<string, string[]>();
  for (const rule of codeowners.rules) {
    if (patternMatches(rule.pattern, target)) bySection.set(rule.section, rule.owners);
  }
  return [...new Set([...bySection.values()].flat())];
}
