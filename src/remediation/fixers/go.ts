// Go modules: the requirement in go.mod raised to the fixed version, and go.sum completed as the
// Go toolchain would complete it. The new build list comes from minimal version selection over
// the module proxy's go.mod files (every module version the requirements reach, each module at
// the highest version any of them requires); every module whose selected version changes is
// raised in go.mod (added "// indirect" where go.mod did not list it), and go.sum gains the
// "h1:" hashes of each new selected version's source archive and of the go.mod of every module
// version the graph reaches that it did not hold — computed from the proxy's .zip and .mod
// exactly as the go command computes them. What cannot be done completely (a replace or exclude
// directive, vendored modules, a module the proxy does not have) gets no pull request.
import { compareVersions } from "../../vuln/versions/index.js";
import { hashGoMod } from "./go-hash.js";
import { type FileChange, type FixOutcome, cannot } from "./types.js";

export interface GoTools {
  read(path: string): Promise<string | undefined>;
  /** A module version's go.mod as the proxy serves it. */
  goMod(path: string, version: string): Promise<string>;
  /** The "h1:" hash of a module version's source archive, from the proxy's .zip. */
  goZipHash(path: string, version: string): Promise<string>;
}

/** Module versions one fix may visit in the graph (a large service reaches a few hundred). */
const MAX_GRAPH = 5000;

interface Requirement {
  path: string;
  version: string;
  indirect: boolean;
  /** The line it is on, and where its version is in that line. */
  line: number;
  versionStart: number;
}

interface GoMod {
  module: string | undefined;
  go: string | undefined;
  requires: Requirement[];
  directives: Set<string>;
  lines: string[];
}

/** A go.mod line's fields before its comment, each with where it starts; quoted paths unquoted. */
function fields(line: string): { text: string; start: number }[] {
  const out: { text: string; start: number }[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && (line[i] === " " || line[i] === "\t" || line[i] === "\r")) i++;
    if (i >= line.length || line.startsWith("//", i)) break;
    const start = i;
    if (line[i] === '"' || line[i] === "`") {
      const quote = line[i]!;
      i++;
      while (i < line.length && line[i] !== quote) i += line[i] === "\\" ? 2 : 1;
      out.push({ text: line.slice(start + 1, i), start });
      i++;
      continue;
    }
    while (i < line.length && line[i] !== " " && line[i] !== "\t" && line[i] !== "\r" && !line.startsWith("//", i)) i++;
    out.push({ text: line.slice(start, i), start });
  }
  return out;
}

export function parseGoMod(text: string): GoMod {
  const lines = text.split("\n");
  const mod: GoMod = { module: undefined, go: undefined, requires: [], directives: new Set(), lines };
  let block: string | undefined;
  lines.forEach((line, n) => {
    const f = fields(line);
    const indirect = /\/\/\s*indirect\b/.test(line);
    if (block) {
      if (f[0]?.text === ")") {
        block = undefined;
        return;
      }
      if (block === "require" && f.length >= 2) mod.requires.push({ path: f[0]!.text, version: f[1]!.text, indirect, line: n, versionStart: f[1]!.start });
      return;
    }
    if (f.length === 0) return;
    const verb = f[0]!.text;
    mod.directives.add(verb);
    if (f[1]?.text === "(") {
      block = verb;
      return;
    }
    if (verb === "module") mod.module = f[1]?.text;
    else if (verb === "go") mod.go = f[1]?.text;
    else if (verb === "require" && f.length >= 3) mod.requires.push({ path: f[1]!.text, version: f[2]!.text, indirect, line: n, versionStart: f[2]!.start });
  });
  return mod;
}

const newer = (a: string, b: string) => (compareVersions("Go", a, b) ?? 0) > 0;

/** Minimal version selection over the whole graph: each module at the highest version reached, and every version visited. */
async function buildList(
  main: string | undefined,
  roots: [string, string][],
  tools: GoTools,
): Promise<{ selected: Map<string, string>; visited: Map<string, string> }> {
  const selected = new Map<string, string>();
  const visited = new Map<string, string>();
  const queue = [...roots];
  while (queue.length) {
    const [path, version] = queue.shift()!;
    const key = `${path}@${version}`;
    if (path === main || visited.has(key)) continue;
    if (visited.size >= MAX_GRAPH) throw new GoGraphError(`the module graph reaches more than ${MAX_GRAPH} module versions`);
    const mod = await tools.goMod(path, version);
    visited.set(key, mod);
    const current = selected.get(path);
    if (!current || newer(version, current)) selected.set(path, version);
    for (const r of parseGoMod(mod).requires) queue.push([r.path, r.version]);
  }
  return { selected, visited };
}

export class GoGraphError extends Error {}

/** go.sum's order (golang.org/x/mod/module.Sort): by path, then version, a version's own line before its "/go.mod" line. */
function sumOrder(a: string, b: string): number {
  const [pa = "", va = ""] = a.split(" ");
  const [pb = "", vb = ""] = b.split(" ");
  if (pa !== pb) return pa < pb ? -1 : 1;
  const [xa = "", sa = ""] = va.split("/");
  const [xb = "", sb = ""] = vb.split("/");
  if (xa !== xb) return compareVersions("Go", xa, xb) ?? (xa < xb ? -1 : 1);
  return sa === sb ? 0 : sa < sb ? -1 : 1;
}

export async function raiseGo(modPath: string, text: string, name: string, from: string, to: string, tools: GoTools): Promise<FixOutcome> {
  const dir = modPath.includes("/") ? modPath.slice(0, modPath.lastIndexOf("/") + 1) : "";
  if (!modPath.endsWith("go.mod")) return cannot(`${modPath}: Patchbay raises Go modules in go.mod.`);
  const mod = parseGoMod(text);
  if (!mod.module) return cannot(`${modPath} names no module: is this a go.mod file?`);
  for (const directive of ["replace", "exclude"]) {
    if (mod.directives.has(directive))
      return cannot(`${modPath} has ${directive} directives: the build list depends on them, and Patchbay leaves such modules to the go command.`);
  }
  if ((await tools.read(`${dir}vendor/modules.txt`)) !== undefined) {
    return cannot(`${dir}vendor/modules.txt: the module vendors its dependencies, and only go mod vendor can rewrite the vendor folder.`);
  }
  const sumPath = `${dir}go.sum`;
  const sumText = (await tools.read(sumPath)) ?? "";

  let before;
  let after;
  try {
    const roots = mod.requires.map((r): [string, string] => [r.path, r.version]);
    before = await buildList(mod.module, roots, tools);
    const raised = roots.some(([p]) => p === name)
      ? roots.map(([p, v]): [string, string] => [p, p === name && newer(to, v) ? to : v])
      : [...roots, [name, to] as [string, string]];
    after = await buildList(mod.module, raised, tools);
  } catch (err) {
    if (err instanceof GoGraphError) return cannot(`${modPath}: ${err.message}.`);
    throw err;
  }
  const selectedTo = after.selected.get(name);
  if (!selectedTo || newer(to, selectedTo)) return cannot(`${modPath}: minimal version selection does not reach ${name} ${to}.`);

  // go.mod: every listed module at its new selected version; a changed module it did not list, added as indirect.
  const lines = [...mod.lines];
  const changed = [...after.selected].filter(([p, v]) => before.selected.get(p) !== v);
  const listed = new Set(mod.requires.map((r) => r.path));
  for (const r of mod.requires) {
    const v = after.selected.get(r.path);
    if (v && v !== r.version) {
      const line = lines[r.line]!;
      lines[r.line] = line.slice(0, r.versionStart) + v + line.slice(r.versionStart + r.version.length);
    }
  }
  const added = changed.filter(([p]) => !listed.has(p)).sort(([a], [b]) => (a < b ? -1 : 1));
  if (added.length) {
    // Into the last require block that lists indirect ones, else a block of their own.
    const indirectBlock = [...mod.requires].reverse().find((r) => r.indirect && fields(lines[r.line]!)[0]?.text !== "require");
    const entries = added.map(([p, v]) => `\t${p} ${v} // indirect`);
    if (indirectBlock) lines.splice(indirectBlock.line + 1, 0, ...entries);
    else {
      while (lines.length && lines[lines.length - 1] === "") lines.pop();
      lines.push("", "require (", ...entries, ")", "");
    }
  }
  const modAfter = lines.join("\n");

  // go.sum: the new selected versions' archives, and the go.mod of every version the graph reaches.
  const sumLines = sumText.split("\n").filter((l) => l.trim());
  const have = new Set(sumLines.map((l) => l.split(" ").slice(0, 2).join(" ")));
  const fresh: string[] = [];
  for (const [key, goMod] of after.visited) {
    const at = key.lastIndexOf("@");
    const [p, v] = [key.slice(0, at), key.slice(at + 1)];
    if (!have.has(`${p} ${v}/go.mod`)) fresh.push(`${p} ${v}/go.mod ${hashGoMod(goMod)}`);
  }
  for (const [p, v] of changed) if (!have.has(`${p} ${v}`)) fresh.push(`${p} ${v} ${await tools.goZipHash(p, v)}`);
  const merged = [...sumLines];
  for (const line of fresh.sort(sumOrder)) {
    const at = merged.findIndex((l) => sumOrder(line, l) < 0);
    if (at < 0) merged.push(line);
    else merged.splice(at, 0, line);
  }
  const sumAfter = merged.join("\n") + "\n";

  const changes: FileChange[] = [{ path: modPath, before: text, after: modAfter }];
  if (sumAfter !== sumText) changes.push({ path: sumPath, before: sumText, after: sumAfter });
  const others = changed.filter(([p]) => p !== name);
  const how = [
    `${name} ${from} → ${selectedTo} in ${modPath}${listed.has(name) ? "" : " (added as indirect)"}`,
    ...(others.length ? [`minimal version selection also raises ${others.map(([p, v]) => `${p} to ${v}`).join(", ")}`] : []),
    `${fresh.length} go.sum lines added, hashed from the module proxy's archives and go.mod files as the go command hashes them`,
  ];
  return { ok: true, changes, how: how.join("; ") };
}
