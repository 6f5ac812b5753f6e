// Manifests and lockfiles: which package versions a repository resolves, per ecosystem, read
// from the files themselves (no package manager runs). Each parser takes the file's text and
// returns the pinned versions it names; a file it cannot read throws ManifestError with the
// reason, which the dependency monitor reports instead of guessing. Every parser runs in time
// linear in the file's length (real TOML and XML parsers, no backtracking patterns): these
// files come from any repository source control lists, so anyone who can push one can write them.
import sax from "sax";
import { parse as parseToml } from "smol-toml";
import { isSpace, skipSpace, trimStart, words } from "../text.js";
import { packageKey } from "./packages.js";
import { compareVersions } from "./versions/index.js";

/** Ecosystem names as the OSV database spells them. */
export type Ecosystem = "npm" | "PyPI" | "Maven" | "Go" | "RubyGems" | "crates.io" | "Packagist" | "NuGet";

/** Where a dependency is used, where the file says: shipped, for development, for tests, optional. */
export type Scope = "production" | "development" | "test" | "optional";

export interface Dependency {
  ecosystem: Ecosystem;
  /** npm "@scope/name", PyPI normalised, Maven "group:artifact", Go module path. */
  name: string;
  version: string;
  /** Declared by the project itself (true) or pulled in by another package (false); absent when the file does not say. */
  direct?: boolean;
  scope?: Scope;
  /** A transitive dependency's chain: the direct dependencies that pull it in (at most ten), where the file says. */
  via?: string[];
}

/** The most direct parents a dependency lists (a package pulled in by everything says little more). */
const MAX_VIA = 10;

/**
 * For each package reachable from the direct ones, the direct ones it is reached from (at most
 * ten). Each package takes each root once and at most ten in all, so the walk costs at most
 * ten times the edges, however the lockfile's author wired them.
 */
export function viaDirect(direct: Iterable<string>, edges: Map<string, string[]>): Map<string, string[]> {
  const via = new Map<string, string[]>();
  const queue: [string, string][] = [];
  const reach = (node: string, root: string) => {
    if (node === root) return;
    const list = via.get(node) ?? [];
    if (list.length >= MAX_VIA || list.includes(root)) return;
    list.push(root);
    via.set(node, list);
    queue.push([node, root]);
  };
  for (const root of direct) for (const child of edges.get(root) ?? []) reach(child, root);
  for (let i = 0; i < queue.length; i++) {
    const [node, root] = queue[i]!;
    for (const child of edges.get(node) ?? []) reach(child, root);
  }
  return via;
}

/** Marks each dependency direct or transitive by the declared names, with its chain to them. */
function withChains(deps: Dependency[], declared: Map<string, Scope | undefined>, edges: Map<string, string[]>): Dependency[] {
  const via = viaDirect(declared.keys(), edges);
  return deps.map((d) => {
    if (declared.has(d.name)) {
      const scope = d.scope ?? declared.get(d.name);
      return { ...d, direct: true, ...(scope ? { scope } : {}) };
    }
    const chain = via.get(d.name);
    if (!chain) return { ...d, direct: false };
    // Where the file does not say, a transitive dependency is used as the widest of its parents is.
    const scope = d.scope ?? SCOPE_ORDER.find((s) => chain.some((parent) => declared.get(parent) === s));
    return { ...d, direct: false, via: chain, ...(scope ? { scope } : {}) };
  });
}

const SCOPE_ORDER: Scope[] = ["production", "optional", "development", "test"];

/** The largest manifest read from a repository (a monorepo's package-lock.json can near 20 MB). */
export const MAX_MANIFEST_BYTES = 20 * 1024 * 1024;

export class ManifestError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = "ManifestError";
  }
}

interface Format {
  /** Matches the file's base name. */
  name: RegExp;
  label: string;
  parse(text: string, path: string): Dependency[];
}

/** Directories of vendored or installed code: their manifests are not the repository's own. */
const SKIPPED_DIRECTORIES = /(^|\/)(node_modules|vendor|\.git|bower_components|site-packages|\.venv|venv|target|dist)\//;

const FORMATS: Format[] = [
  { name: /^package-lock\.json$|^npm-shrinkwrap\.json$/, label: "package-lock.json", parse: parsePackageLock },
  { name: /^yarn\.lock$/, label: "yarn.lock", parse: parseYarnLock },
  { name: /^pnpm-lock\.yaml$/, label: "pnpm-lock.yaml", parse: parsePnpmLock },
  { name: /^requirements[\w.-]*\.txt$/, label: "requirements.txt", parse: parseRequirements },
  { name: /^poetry\.lock$/, label: "poetry.lock", parse: parsePoetryLock },
  { name: /^Pipfile\.lock$/, label: "Pipfile.lock", parse: parsePipfileLock },
  { name: /^go\.sum$/, label: "go.sum", parse: parseGoSum },
  { name: /^go\.mod$/, label: "go.mod", parse: parseGoMod },
  { name: /^pom\.xml$/, label: "pom.xml", parse: parsePom },
  { name: /^Gemfile\.lock$/, label: "Gemfile.lock", parse: parseGemfileLock },
  { name: /^Cargo\.lock$/, label: "Cargo.lock", parse: parseCargoLock },
  { name: /^uv\.lock$/, label: "uv.lock", parse: parseUvLock },
  { name: /^composer\.lock$/, label: "composer.lock", parse: parseComposerLock },
  { name: /^packages\.lock\.json$/, label: "packages.lock.json", parse: parseNuGetLock },
  { name: /^gradle\.lockfile$|^buildscript-gradle\.lockfile$/, label: "gradle.lockfile", parse: parseGradleLockfile },
  { name: /^bun\.lock$/, label: "bun.lock", parse: parseBunLock },
];

/** The ecosystem whose packages each format pins. */
const FORMAT_ECOSYSTEMS: Record<string, Ecosystem> = {
  "package-lock.json": "npm",
  "yarn.lock": "npm",
  "pnpm-lock.yaml": "npm",
  "bun.lock": "npm",
  "requirements.txt": "PyPI",
  "poetry.lock": "PyPI",
  "Pipfile.lock": "PyPI",
  "uv.lock": "PyPI",
  "go.sum": "Go",
  "go.mod": "Go",
  "pom.xml": "Maven",
  "gradle.lockfile": "Maven",
  "Gemfile.lock": "RubyGems",
  "Cargo.lock": "crates.io",
  "composer.lock": "Packagist",
  "packages.lock.json": "NuGet",
};

/** The ecosystem of a format (manifestFormat's label). */
export function formatEcosystem(label: string): Ecosystem | undefined {
  return FORMAT_ECOSYSTEMS[label];
}

/** The format of a file Patchbay reads for dependencies, or undefined. */
export function manifestFormat(path: string): string | undefined {
  if (SKIPPED_DIRECTORIES.test(path)) return undefined;
  const base = path.slice(path.lastIndexOf("/") + 1);
  return FORMATS.find((f) => f.name.test(base))?.label;
}

/** The pinned dependencies a manifest or lockfile names, without duplicates. */
export function parseManifest(path: string, text: string): Dependency[] {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const format = FORMATS.find((f) => f.name.test(base));
  if (!format) throw new ManifestError(path, "not a manifest or lockfile Patchbay reads.");
  const seen = new Map<string, Dependency>();
  for (const dep of format.parse(text.replace(/^\uFEFF/, ""), path)) {
    if (!dep.name || !dep.version) continue;
    seen.set(`${dep.ecosystem}\u0000${dep.name}\u0000${dep.version}`, dep);
  }
  return [...seen.values()];
}

/** The text up to the first occurrence of `mark` ("a(b" → "a"), or all of it. */
function cutAt(text: string, mark: string): string {
  const at = text.indexOf(mark);
  return at < 0 ? text : text.slice(0, at);
}

function json(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ManifestError(path, `not valid JSON (${(err as Error).message}).`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// --- npm ---------------------------------------------------------------------------------

/** package-lock.json v1 (nested "dependencies") and v2/v3 ("packages" keyed by install path). */
function parsePackageLock(text: string, path: string): Dependency[] {
  const lock = json(text, path);
  if (!isRecord(lock)) throw new ManifestError(path, "the lockfile is not a JSON object.");
  const out: Dependency[] = [];
  if (isRecord(lock.packages)) {
    const root = isRecord(lock.packages[""]) ? lock.packages[""] : {};
    const edges = new Map<string, string[]>();
    for (const [where, entry] of Object.entries(lock.packages)) {
      if (where === "" || !isRecord(entry) || entry.link === true || typeof entry.version !== "string") continue;
      const at = where.lastIndexOf("node_modules/");
      if (at < 0) continue; // a workspace member's own folder
      const name = typeof entry.name === "string" ? entry.name : where.slice(at + "node_modules/".length);
      edges.set(name, [...new Set([...(edges.get(name) ?? []), ...npmRequires(entry)])]);
      const scope: Scope = entry.dev === true || entry.devOptional === true ? "development" : entry.optional === true ? "optional" : "production";
      if (isRegistryVersion(entry.version))
        out.push({ ecosystem: "npm", name, version: entry.version, scope, ...(where === `node_modules/${name}` ? {} : { nested: true }) } as Dependency);
    }
    // Only the copy at the top of node_modules is the one the project declared.
    const declared = declaredNpm(root);
    return withChains(out, declared, edges).map(({ nested, ...d }: Dependency & { nested?: boolean }) => (nested && d.direct ? { ...d, direct: false } : d));
  }
  if (!isRecord(lock.dependencies)) throw new ManifestError(path, 'neither "packages" (lockfile v2/v3) nor "dependencies" (v1) is present.');
  const walk = (deps: Record<string, unknown>) => {
    for (const [name, entry] of Object.entries(deps)) {
      if (!isRecord(entry)) continue;
      const scope: Scope = entry.dev === true ? "development" : entry.optional === true ? "optional" : "production";
      if (typeof entry.version === "string" && isRegistryVersion(entry.version)) out.push({ ecosystem: "npm", name, version: entry.version, scope });
      if (isRecord(entry.dependencies)) walk(entry.dependencies);
    }
  };
  walk(lock.dependencies);
  return out;
}

/** The packages a package.json-like object declares, with the scope each is declared for. */
function declaredNpm(manifest: Record<string, unknown>): Map<string, Scope | undefined> {
  const declared = new Map<string, Scope | undefined>();
  const sections: [string, Scope][] = [
    ["devDependencies", "development"],
    ["optionalDependencies", "optional"],
    ["peerDependencies", "production"],
    ["dependencies", "production"],
  ];
  for (const [key, scope] of sections) {
    const list = manifest[key];
    if (isRecord(list)) for (const name of Object.keys(list)) declared.set(name, scope);
  }
  return declared;
}

/** The names an npm lock entry depends on. */
function npmRequires(entry: Record<string, unknown>): string[] {
  return ["dependencies", "optionalDependencies", "peerDependencies", "requires"].flatMap((k) => {
    const list = entry[k];
    return isRecord(list) ? Object.keys(list) : [];
  });
}

/** A version from the registry, not "file:", "git+…", "github:…" or a tarball URL. */
function isRegistryVersion(version: string): boolean {
  return /^\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]*)?$/.test(version);
}

/** The package name in an npm spec: "@scope/name@^1.0.0" → "@scope/name". */
function npmName(spec: string): string {
  const at = spec.indexOf("@", 1);
  return at < 0 ? spec : spec.slice(0, at);
}

/**
 * The package an npm spec installs. "semver@npm:^7.5.1" (Berry's protocol) installs semver; an
 * alias, "my-lodash@npm:lodash@^4", installs the package it names after "npm:".
 */
function realName(spec: string): string {
  const range = spec.slice(npmName(spec).length + 1);
  const target = range.startsWith("npm:") ? range.slice(4) : "";
  const aliased = npmName(target);
  return target && aliased !== target ? aliased : npmName(spec);
}

/** Ranges that point elsewhere than the registry (a patch entry repeats its registry entry). */
const NOT_FROM_REGISTRY = /^(workspace:|link:|portal:|file:|exec:|patch:|git\+|git:|github:|https?:)/;

/** yarn.lock, classic (v1: `version "1.2.3"`) and Berry (v2+: YAML, `version: 1.2.3`). */
function parseYarnLock(text: string, path: string): Dependency[] {
  const out: Dependency[] = [];
  let names: string[] = [];
  let sawEntry = false;
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim() || line.startsWith("#")) continue;
    if (!/^\s/.test(line)) {
      // An entry's header: one or more specs, quoted or not, ending with ":".
      if (!line.endsWith(":")) throw new ManifestError(path, `unexpected line "${line.slice(0, 80)}": an entry header ends with ":".`);
      const specs = line
        .slice(0, -1)
        .split(/,\s*/)
        .map((s) => s.trim().replace(/^"|"$/g, ""));
      names = specs[0] === "__metadata" ? [] : specs.filter((s) => !NOT_FROM_REGISTRY.test(s.slice(npmName(s).length + 1))).map(realName);
      sawEntry = true;
      continue;
    }
    const version = /^\s+version:?\s+"?([^"\s]+)"?\s*$/.exec(line);
    if (version && names.length && isRegistryVersion(version[1]!)) {
      for (const name of new Set(names)) out.push({ ecosystem: "npm", name, version: version[1]! });
      names = [];
    }
  }
  if (!sawEntry && text.trim()) throw new ManifestError(path, "no entries found; is this a yarn lockfile?");
  return out;
}

/** A YAML mapping key and its indentation ("    'react@18.2.0':" → 4, react@18.2.0), read without backtracking. */
function yamlKey(line: string): { depth: number; name: string } | undefined {
  const depth = skipSpace(line, 0);
  const quote = line[depth];
  if (quote === "'" || quote === '"') {
    const close = line.indexOf(quote, depth + 1);
    return close > depth + 1 && line[close + 1] === ":" ? { depth, name: line.slice(depth + 1, close) } : undefined;
  }
  // Unquoted: up to the first ":" that ends the line or is followed by a space.
  for (let at = line.indexOf(":", depth); at > depth; at = line.indexOf(":", at + 1)) {
    if (at === line.length - 1 || isSpace(line[at + 1])) return { depth, name: line.slice(depth, at) };
  }
  return undefined;
}

/**
 * pnpm-lock.yaml: the keys of "packages:" — v5 "/name/1.2.3", v6 "/name@1.2.3", v9
 * "name@1.2.3", each with an optional peer suffix ("(react@18.2.0)" or "_react@18.2.0").
 * The project's own dependencies are the importers' (v6+; a workspace has several) or the
 * top-level dependencies, devDependencies and optionalDependencies (v5); what each package
 * depends on is listed under it in "packages" (v5, v6) or "snapshots" (v9).
 */
function parsePnpmLock(text: string, path: string): Dependency[] {
  if (!/^lockfileVersion:/m.test(text)) throw new ManifestError(path, "lockfileVersion is missing; is this a pnpm lockfile?");
  // Before v6 keys are "/name/version" and peers follow an underscore.
  const slashKeys = /^lockfileVersion:\s*['"]?[1-5](\.|['"]?\s*$)/m.test(text);
  const nameOf = (key: string): { name: string; version: string } => {
    const spec = cutAt(trimStart(key, "/"), "(");
    if (slashKeys) {
      // name/1.2.3_peer@1.0.0 (a scoped name has one more slash).
      const slash = cutAt(spec, "_").lastIndexOf("/");
      return { name: spec.slice(0, slash), version: cutAt(spec.slice(slash + 1), "_") };
    }
    const at = spec.indexOf("@", 1);
    return { name: spec.slice(0, at), version: spec.slice(at + 1) };
  };
  const KINDS: Record<string, Scope> = { dependencies: "production", devDependencies: "development", optionalDependencies: "optional" };
  const out: Dependency[] = [];
  const declared = new Map<string, Scope | undefined>();
  const edges = new Map<string, string[]>();
  let section = "";
  let owner = ""; // the package whose entry is being read
  let kind = ""; // the dependency list being read
  for (const line of text.split(/\r?\n/)) {
    if (/^\S/.test(line)) {
      section = cutAt(line, ":").trim();
      kind = section;
      continue;
    }
    const key = yamlKey(line);
    if (!key) continue;
    const { depth, name } = key;
    if (section === "importers") {
      if (depth === 4) kind = name;
      else if (depth === 6 && KINDS[kind] && !declared.has(name)) declared.set(name, KINDS[kind]);
    } else if (KINDS[section]) {
      if (depth === 2 && !declared.has(name)) declared.set(name, KINDS[section]);
    } else if (section === "packages" || section === "snapshots") {
      if (depth === 2) {
        const pkg = nameOf(name);
        owner = pkg.name;
        if (section === "packages" && pkg.name && isRegistryVersion(pkg.version)) out.push({ ecosystem: "npm", name: pkg.name, version: pkg.version });
      } else if (depth === 4) kind = name;
      else if (depth === 6 && (kind === "dependencies" || kind === "optionalDependencies") && owner) edges.set(owner, [...(edges.get(owner) ?? []), name]);
    }
  }
  return declared.size ? withChains(out, declared, edges) : out;
}

// --- Python ------------------------------------------------------------------------------

/** PEP 503 normalised project name: what PyPI and OSV key on. */
export function pypiName(name: string): string {
  return packageKey("PyPI", name);
}

/** requirements.txt: exact pins ("name==1.2.3", "name[extra]===1.2.3"); ranges cannot be resolved from the file alone. */
function parseRequirements(text: string, path: string): Dependency[] {
  const out: Dependency[] = [];
  // Every line is the project's own; requirements-dev.txt and requirements-test.txt say what for.
  const base = path.slice(path.lastIndexOf("/") + 1).toLowerCase();
  const scope: Scope = base.includes("test") ? "test" : base.includes("dev") ? "development" : "production";
  for (const raw of text.replace(/\\\r?\n/g, " ").split(/\r?\n/)) {
    const line = withoutComment(raw).trim();
    if (!line || line.startsWith("-")) continue; // -r other.txt, -e ., --index-url …
    const pin = requirementPin(line);
    if (pin) out.push({ ecosystem: "PyPI", name: pypiName(pin.name), version: pin.version, direct: true, scope });
  }
  return out;
}

/** A requirements line without its comment: "#" at the start or after white space. */
function withoutComment(line: string): string {
  for (let at = line.indexOf("#"); at >= 0; at = line.indexOf("#", at + 1)) {
    if (at === 0 || isSpace(line[at - 1])) return line.slice(0, at);
  }
  return line;
}

/**
 * An exact pin: `name[extras] == 1.2.3` or `===`, then an optional `; marker` and `--hash=…`
 * options. Anything else (ranges, URLs, local paths) cannot be resolved from the file alone.
 */
function requirementPin(line: string): { name: string; version: string } | undefined {
  let i = 0;
  while (i < line.length && /[A-Za-z0-9._-]/.test(line[i]!)) i++;
  const name = line.slice(0, i);
  if (!/^[A-Za-z0-9]/.test(name)) return undefined;
  i = skipSpace(line, i);
  if (line[i] === "[") {
    const close = line.indexOf("]", i);
    if (close < 0) return undefined;
    i = skipSpace(line, close + 1);
  }
  if (!line.startsWith("==", i)) return undefined;
  i = skipSpace(line, line.startsWith("===", i) ? i + 3 : i + 2);
  const start = i;
  while (i < line.length && /[A-Za-z0-9.+!-]/.test(line[i]!)) i++;
  const version = line.slice(start, i);
  if (!/^[A-Za-z0-9]/.test(version)) return undefined;
  const rest = line.slice(i).trim();
  // What may follow: an environment marker, hash options, or nothing.
  if (rest && !rest.startsWith(";") && !rest.startsWith("--hash=")) return undefined;
  return { name, version };
}

/** The `[[package]]` tables of a TOML lockfile (poetry.lock, Cargo.lock), read by a TOML parser. */
function tomlPackages(text: string, path: string): Record<string, unknown>[] {
  let document: Record<string, unknown>;
  try {
    document = parseToml(text);
  } catch (err) {
    throw new ManifestError(path, `not valid TOML (${(err as Error).message.split("\n")[0]}).`);
  }
  const packages = document.package;
  if (packages === undefined) return [];
  if (!Array.isArray(packages)) throw new ManifestError(path, '"package" is not an array of tables.');
  return packages.filter(isRecord);
}

function stringField(table: Record<string, unknown>, key: string): string | undefined {
  const value = table[key];
  return typeof value === "string" ? value : undefined;
}

/** Poetry's category ("main", "dev"; before 1.5) or groups (["main"], ["dev"], ["test"]). */
function poetryScope(p: Record<string, unknown>): { scope?: Scope } {
  const groups = Array.isArray(p.groups) ? p.groups.map(String) : typeof p.category === "string" ? [p.category] : [];
  if (!groups.length) return {};
  if (groups.includes("main")) return { scope: p.optional === true ? "optional" : "production" };
  return { scope: groups.some((g) => g.includes("test")) ? "test" : "development" };
}

function parsePoetryLock(text: string, path: string): Dependency[] {
  const packages = tomlPackages(text, path);
  if (packages.length === 0 && text.trim() && !text.includes("[metadata]"))
    throw new ManifestError(path, "no [[package]] tables found; is this a Poetry lockfile?");
  const out: Dependency[] = [];
  for (const p of packages) {
    const name = stringField(p, "name");
    const version = stringField(p, "version");
    // Packages from a local path, a URL or a git checkout are not on PyPI ("legacy" is a private index).
    const sourceType = isRecord(p.source) ? stringField(p.source, "type") : undefined;
    if (name && version && !["git", "directory", "file", "url"].includes(sourceType ?? ""))
      out.push({ ecosystem: "PyPI", name: pypiName(name), version, ...poetryScope(p) });
  }
  return out;
}

function parsePipfileLock(text: string, path: string): Dependency[] {
  const lock = json(text, path);
  if (!isRecord(lock) || !isRecord(lock._meta)) throw new ManifestError(path, 'the "_meta" section is missing; is this a Pipfile.lock?');
  const out: Dependency[] = [];
  for (const section of ["default", "develop"]) {
    const deps = lock[section];
    if (!isRecord(deps)) continue;
    for (const [name, entry] of Object.entries(deps)) {
      const pin = isRecord(entry) && typeof entry.version === "string" ? entry.version : "";
      const version = pin.startsWith("===") ? pin.slice(3) : pin.startsWith("==") ? pin.slice(2) : undefined;
      if (version) out.push({ ecosystem: "PyPI", name: pypiName(name), version, scope: section === "default" ? "production" : "development" });
    }
  }
  return out;
}

// --- Go ----------------------------------------------------------------------------------

/**
 * go.sum: "module version h1:hash" lines. A module can appear at several versions (older ones
 * only for their go.mod); the build uses the highest, as minimal version selection does.
 */
function parseGoSum(text: string, path: string): Dependency[] {
  const highest = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    const parts = line.split(/\s+/);
    if (parts.length !== 3 || !parts[2]!.startsWith("h1:"))
      throw new ManifestError(path, `unexpected line "${line.slice(0, 80)}": go.sum lines are "module version h1:hash".`);
    const version = parts[1]!.replace(/\/go\.mod$/, "");
    const current = highest.get(parts[0]!);
    if (!current || (compareVersions("Go", version, current) ?? 0) > 0) highest.set(parts[0]!, version);
  }
  return [...highest].map(([name, version]) => ({ ecosystem: "Go" as const, name, version }));
}

/**
 * go.mod: the require directives (a block or single lines). Since Go 1.17 a module's go.mod
 * lists every module its build uses, at the selected version; replaced modules are left out.
 */
function parseGoMod(text: string, path: string): Dependency[] {
  // Each line as its words, comments dropped: ["require", "(", …], ["golang.org/x/net", "v0.1.0"];
  // "// indirect" marks a module the build needs that no package of this module imports.
  const raw = text.split(/\r?\n/);
  const lines = raw.map((line) => words(cutAt(line, "//")));
  const indirect = raw.map((line) => words(line.slice(line.indexOf("//") + 2 || line.length)).includes("indirect"));
  if (!lines.some((w) => w[0] === "module" && w.length > 1)) throw new ManifestError(path, 'no "module" directive; is this a go.mod file?');
  const requires: { name: string; version: string; direct: boolean }[] = [];
  const replaced = new Set<string>();
  let block = "";
  for (const [i, w] of lines.entries()) {
    if (w.length === 0) continue;
    if (w.length === 2 && w[1] === "(") {
      block = w[0]!;
      continue;
    }
    if (block && w.length === 1 && w[0] === ")") {
      block = "";
      continue;
    }
    const [directive, args] = block ? [block, w] : [w[0]!, w.slice(1)];
    // `old [v1.2.3] => new [v1.2.4]`: the old module is not what the build uses.
    if (directive === "replace" && args.includes("=>")) replaced.add(args[0]!);
    if (directive === "require" && args.length >= 2 && args[1]!.startsWith("v")) requires.push({ name: args[0]!, version: args[1]!, direct: !indirect[i] });
  }
  return requires.filter((r) => !replaced.has(r.name)).map((r) => ({ ecosystem: "Go" as const, ...r }));
}

// --- Maven -------------------------------------------------------------------------------

interface XmlElement {
  name: string;
  text: string;
  children: XmlElement[];
}

/** Deeper than any real POM: a document nested further is refused rather than walked. */
const MAX_XML_DEPTH = 64;

/** The document's elements as a tree, read by a streaming XML parser (strict: a POM is well-formed XML). */
function xmlTree(text: string, path: string): XmlElement {
  const parser = sax.parser(true, { trim: false, xmlns: false });
  const root: XmlElement = { name: "", text: "", children: [] };
  const stack = [root];
  let failure: string | undefined;
  parser.onopentag = (tag) => {
    if (stack.length > MAX_XML_DEPTH) throw new ManifestError(path, `elements nested deeper than ${MAX_XML_DEPTH} levels; this is not a Maven POM.`);
    const element: XmlElement = { name: tag.name, text: "", children: [] };
    stack.at(-1)!.children.push(element);
    stack.push(element);
  };
  parser.onclosetag = () => void stack.pop();
  parser.ontext = parser.oncdata = (t) => {
    stack.at(-1)!.text += t;
  };
  parser.onerror = (err) => {
    failure ??= err.message.split("\n")[0];
  };
  try {
    parser.write(text).close();
  } catch (err) {
    if (err instanceof ManifestError) throw err;
    failure ??= (err as Error).message.split("\n")[0];
  }
  if (failure) throw new ManifestError(path, `not well-formed XML (${failure}).`);
  return root;
}

function child(element: XmlElement | undefined, name: string): XmlElement | undefined {
  return element?.children.find((c) => c.name === name);
}

function childText(element: XmlElement | undefined, name: string): string | undefined {
  const text = child(element, name)?.text.trim();
  return text || undefined;
}

/** Replaces each `${key}` the properties know; the text is read once from left to right. */
function substitute(text: string, properties: Map<string, string>): string {
  let out = "";
  let at = 0;
  for (let open = text.indexOf("${"); open >= 0; open = text.indexOf("${", at)) {
    const close = text.indexOf("}", open + 2);
    if (close < 0) break;
    const value = properties.get(text.slice(open + 2, close));
    out += text.slice(at, open) + (value ?? text.slice(open, close + 1));
    at = close + 1;
  }
  return out + text.slice(at);
}

/**
 * pom.xml: declared dependencies with their versions, ${properties} resolved (including
 * project.version and project.parent.version), versions from dependencyManagement applied.
 * Ranges ("[1.0,2.0)") and unresolved properties are left out: they are not pinned here.
 */
function parsePom(text: string, path: string): Dependency[] {
  const project = child(xmlTree(text, path), "project");
  if (!project) throw new ManifestError(path, "no <project> element; is this a Maven POM?");
  const properties = new Map<string, string>();
  for (const p of child(project, "properties")?.children ?? []) properties.set(p.name, p.text.trim());
  const parent = child(project, "parent");
  const projectVersion = childText(project, "version") ?? childText(parent, "version");
  if (projectVersion) properties.set("project.version", projectVersion);
  if (childText(parent, "version")) properties.set("project.parent.version", childText(parent, "version")!);
  const projectGroup = childText(project, "groupId") ?? childText(parent, "groupId");
  if (projectGroup) properties.set("project.groupId", projectGroup);
  const resolve = (value: string | undefined) => {
    let v = value;
    // Properties may name properties; five rounds is deeper than real POMs go.
    for (let i = 0; v && v.includes("${") && i < 5; i++) v = substitute(v, properties);
    return v && !v.includes("${") ? v : undefined;
  };
  const dependencies = (list: XmlElement | undefined) =>
    (list?.children ?? [])
      .filter((d) => d.name === "dependency")
      .map((d) => ({
        group: resolve(childText(d, "groupId")),
        artifact: resolve(childText(d, "artifactId")),
        version: resolve(childText(d, "version")),
        scope: childText(d, "scope"),
        optional: childText(d, "optional") === "true",
      }));
  const managed = new Map<string, string>();
  for (const d of dependencies(child(child(project, "dependencyManagement"), "dependencies"))) {
    if (d.group && d.artifact && d.version && d.scope !== "import") managed.set(`${d.group}:${d.artifact}`, d.version);
  }
  const out: Dependency[] = [];
  for (const d of dependencies(child(project, "dependencies"))) {
    if (!d.group || !d.artifact) continue;
    const name = `${d.group}:${d.artifact}`;
    const version = d.version ?? managed.get(name);
    // compile, runtime, provided and system ship with (or run beside) the project; test does not.
    const scope: Scope = d.optional ? "optional" : d.scope === "test" ? "test" : "production";
    if (version && !version.startsWith("[") && !version.startsWith("(")) out.push({ ecosystem: "Maven", name, version, direct: true, scope });
  }
  return out;
}

// --- Ruby, Rust --------------------------------------------------------------------------

/** Gemfile.lock: the specs of its GEM sections ("    rails (7.0.4)"; a platform suffix dropped). */
function parseGemfileLock(text: string, path: string): Dependency[] {
  if (!/^GEM$/m.test(text) && !/^DEPENDENCIES$/m.test(text)) throw new ManifestError(path, "no GEM section; is this a Gemfile.lock?");
  const out: Dependency[] = [];
  const declared = new Map<string, Scope | undefined>();
  const edges = new Map<string, string[]>();
  let section = "";
  let inSpecs = false;
  let current = "";
  for (const line of text.split(/\r?\n/)) {
    if (/^\S/.test(line)) {
      section = line.trim();
      inSpecs = false;
      continue;
    }
    // DEPENDENCIES: the Gemfile's own gems ("  rails (~> 7.0)", "  my_gem!").
    const own = section === "DEPENDENCIES" && /^ {2}([A-Za-z0-9_.-]+)/.exec(line);
    if (own) declared.set(own[1]!, undefined);
    if (section !== "GEM") continue;
    if (/^ {2}specs:\s*$/.test(line)) {
      inSpecs = true;
      continue;
    }
    const spec = inSpecs && /^ {4}([A-Za-z0-9_.-]+) \(([^)]+)\)\s*$/.exec(line);
    if (spec) {
      current = spec[1]!;
      out.push({ ecosystem: "RubyGems", name: current, version: spec[2]!.split("-")[0]! });
      continue;
    }
    const needs = inSpecs && current && /^ {6}([A-Za-z0-9_.-]+)/.exec(line);
    if (needs) edges.set(current, [...(edges.get(current) ?? []), needs[1]!]);
  }
  return declared.size ? withChains(out, declared, edges) : out;
}

/** Cargo.lock: packages from crates.io (workspace members and git sources left out). */
function parseCargoLock(text: string, path: string): Dependency[] {
  const packages = tomlPackages(text, path);
  if (packages.length === 0 && text.trim()) throw new ManifestError(path, "no [[package]] tables found; is this a Cargo lockfile?");
  const out: Dependency[] = [];
  const declared = new Map<string, Scope | undefined>();
  const edges = new Map<string, string[]>();
  // A dependency is "name", or "name version (source)" when several versions are locked.
  const names = (p: Record<string, unknown>) => (Array.isArray(p.dependencies) ? p.dependencies.map((d) => words(String(d))[0] ?? "") : []);
  for (const p of packages) {
    const name = stringField(p, "name");
    const version = stringField(p, "version");
    if (!name) continue;
    if (!stringField(p, "source")) for (const dep of names(p)) declared.set(dep, undefined); // a workspace member
    edges.set(name, [...(edges.get(name) ?? []), ...names(p)]);
    if (version && stringField(p, "source")?.startsWith("registry+")) out.push({ ecosystem: "crates.io", name, version });
  }
  return declared.size ? withChains(out, declared, edges) : out;
}

// --- PHP, .NET, Gradle, Bun, uv ------------------------------------------------------------

/** uv.lock: the project's own package (an editable or virtual source) names the direct dependencies. */
function parseUvLock(text: string, path: string): Dependency[] {
  const packages = tomlPackages(text, path);
  if (packages.length === 0 && text.trim() && !/^version\s*=/m.test(text)) throw new ManifestError(path, "no [[package]] tables found; is this a uv lockfile?");
  const declared = new Map<string, Scope | undefined>();
  const edges = new Map<string, string[]>();
  const out: Dependency[] = [];
  const listed = (value: unknown) => (Array.isArray(value) ? value.filter(isRecord).map((d) => pypiName(String(d.name ?? ""))) : []);
  for (const p of packages) {
    const name = pypiName(stringField(p, "name") ?? "");
    const version = stringField(p, "version");
    const source = isRecord(p.source) ? p.source : {};
    edges.set(name, listed(p.dependencies));
    if ("editable" in source || "virtual" in source) {
      // The project itself: its dependencies, optional extras and development groups.
      for (const d of listed(p.dependencies)) declared.set(d, "production");
      for (const group of Object.values(isRecord(p["optional-dependencies"]) ? p["optional-dependencies"] : {}))
        for (const d of listed(group)) if (!declared.has(d)) declared.set(d, "optional");
      for (const [group, list] of Object.entries(isRecord(p["dev-dependencies"]) ? p["dev-dependencies"] : {}))
        for (const d of listed(list)) if (!declared.has(d)) declared.set(d, group.includes("test") ? "test" : "development");
      continue;
    }
    if (name && version && "registry" in source) out.push({ ecosystem: "PyPI", name, version });
  }
  return withChains(out, declared, edges);
}

/** composer.lock: "packages" ship, "packages-dev" do not; each names what it requires. */
function parseComposerLock(text: string, path: string): Dependency[] {
  const lock = json(text, path);
  if (!isRecord(lock) || (!Array.isArray(lock.packages) && !Array.isArray(lock["packages-dev"])))
    throw new ManifestError(path, 'neither "packages" nor "packages-dev" is present; is this a composer.lock?');
  const out: Dependency[] = [];
  for (const [key, scope] of [
    ["packages", "production"],
    ["packages-dev", "development"],
  ] as const) {
    for (const p of Array.isArray(lock[key]) ? lock[key].filter(isRecord) : []) {
      const name = typeof p.name === "string" ? p.name.toLowerCase() : "";
      const version = typeof p.version === "string" ? (p.version.startsWith("v") ? p.version.slice(1) : p.version) : "";
      // Branches ("dev-main") are not releases an advisory can name.
      if (name && version && !version.startsWith("dev-") && !version.endsWith("-dev")) out.push({ ecosystem: "Packagist", name, version, scope });
    }
  }
  return out;
}

/** NuGet packages.lock.json: per target framework, "Direct" and "Transitive" packages with what each depends on. */
function parseNuGetLock(text: string, path: string): Dependency[] {
  const lock = json(text, path);
  if (!isRecord(lock) || !isRecord(lock.dependencies))
    throw new ManifestError(path, 'no "dependencies" by target framework; is this a NuGet packages.lock.json?');
  const found = new Map<string, Dependency>();
  const declared = new Map<string, Scope | undefined>();
  const edges = new Map<string, string[]>();
  for (const framework of Object.values(lock.dependencies)) {
    if (!isRecord(framework)) continue;
    for (const [name, entry] of Object.entries(framework)) {
      if (!isRecord(entry) || entry.type === "Project" || typeof entry.resolved !== "string") continue;
      if (entry.type === "Direct") declared.set(name, "production");
      edges.set(name, [...new Set([...(edges.get(name) ?? []), ...(isRecord(entry.dependencies) ? Object.keys(entry.dependencies) : [])])]);
      found.set(`${name}@${entry.resolved}`, { ecosystem: "NuGet", name, version: entry.resolved });
    }
  }
  return withChains([...found.values()], declared, edges);
}

/** gradle.lockfile: "group:artifact:version=configurations"; a test classpath alone is test scope. */
function parseGradleLockfile(text: string, path: string): Dependency[] {
  const out: Dependency[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith("empty=")) continue;
    const eq = line.indexOf("=");
    const coordinates = (eq < 0 ? line : line.slice(0, eq)).split(":");
    if (coordinates.length !== 3)
      throw new ManifestError(path, `unexpected line "${line.slice(0, 80)}": gradle.lockfile lines are "group:artifact:version=configurations".`);
    const configurations = eq < 0 ? [] : line.slice(eq + 1).split(",");
    const test = configurations.length > 0 && configurations.every((c) => c.toLowerCase().startsWith("test"));
    out.push({
      ecosystem: "Maven",
      name: `${coordinates[0]}:${coordinates[1]}`,
      version: coordinates[2]!,
      ...(configurations.length ? { scope: test ? "test" : "production" } : {}),
    });
  }
  return out;
}

/**
 * bun.lock (Bun 1.2+, text): JSON with trailing commas. "workspaces" holds each workspace's
 * declared dependencies, "packages" each installed package as ["name@version", registry, {dependencies}, integrity].
 */
function parseBunLock(text: string, path: string): Dependency[] {
  const lock = json(withoutTrailingCommas(text), path);
  if (!isRecord(lock) || !isRecord(lock.packages)) throw new ManifestError(path, 'no "packages"; is this a bun.lock?');
  const root = isRecord(lock.workspaces) && isRecord(lock.workspaces[""]) ? lock.workspaces[""] : {};
  const edges = new Map<string, string[]>();
  const out: Dependency[] = [];
  for (const entry of Object.values(lock.packages)) {
    if (!Array.isArray(entry) || typeof entry[0] !== "string") continue;
    const spec = entry[0];
    const at = spec.indexOf("@", 1);
    const name = spec.slice(0, at);
    const version = spec.slice(at + 1);
    const info = entry.find((e, i) => i > 0 && isRecord(e)) as Record<string, unknown> | undefined;
    edges.set(name, info ? npmRequires(info) : []);
    if (at > 0 && isRegistryVersion(version)) out.push({ ecosystem: "npm", name, version });
  }
  return withChains(out, declaredNpm(root), edges);
}

/** JSON with trailing commas (",]" and ",}") made plain JSON; strings are left as they are. */
export function withoutTrailingCommas(text: string): string {
  let out = "";
  let inString = false;
  let pending = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === "\\") out += text[++i] ?? "";
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ",") {
      out += pending;
      pending = ",";
      continue;
    }
    if (pending && !isSpace(c)) {
      if (c !== "]" && c !== "}") out += pending;
      pending = "";
    }
    if (pending) continue;
    if (c === '"') inString = true;
    out += c;
  }
  return out + pending;
}
