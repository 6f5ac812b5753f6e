// Manifests and lockfiles: which package versions a repository resolves, per ecosystem, read
// from the files themselves (no package manager runs). Each parser takes the file's text and
// returns the pinned versions it names; a file it cannot read throws ManifestError with the
// reason, which the dependency monitor reports instead of guessing. Every parser runs in time
// linear in the file's length (real TOML and XML parsers, no backtracking patterns): these
// files come from any repository source control lists, so anyone who can push one can write them.
import sax from "sax";
import { parse as parseToml } from "smol-toml";
import { isSpace, skipSpace, trimStart, words } from "../text.js";

/** Ecosystem names as the OSV database spells them. */
export type Ecosystem = "npm" | "PyPI" | "Maven" | "Go" | "RubyGems" | "crates.io";

export interface Dependency {
  ecosystem: Ecosystem;
  /** npm "@scope/name", PyPI normalised, Maven "group:artifact", Go module path. */
  name: string;
  version: string;
}

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
];

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
    for (const [where, entry] of Object.entries(lock.packages)) {
      if (where === "" || !isRecord(entry) || entry.link === true || typeof entry.version !== "string") continue;
      const at = where.lastIndexOf("node_modules/");
      if (at < 0) continue; // a workspace member's own folder
      const name = typeof entry.name === "string" ? entry.name : where.slice(at + "node_modules/".length);
      if (isRegistryVersion(entry.version)) out.push({ ecosystem: "npm", name, version: entry.version });
    }
    return out;
  }
  if (!isRecord(lock.dependencies)) throw new ManifestError(path, 'neither "packages" (lockfile v2/v3) nor "dependencies" (v1) is present.');
  const walk = (deps: Record<string, unknown>) => {
    for (const [name, entry] of Object.entries(deps)) {
      if (!isRecord(entry)) continue;
      if (typeof entry.version === "string" && isRegistryVersion(entry.version)) out.push({ ecosystem: "npm", name, version: entry.version });
      if (isRecord(entry.dependencies)) walk(entry.dependencies);
    }
  };
  walk(lock.dependencies);
  return out;
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

/**
 * pnpm-lock.yaml: the keys of "packages:" — v5 "/name/1.2.3", v6 "/name@1.2.3", v9
 * "name@1.2.3", each with an optional peer suffix ("(react@18.2.0)" or "_react@18.2.0").
 */
function parsePnpmLock(text: string, path: string): Dependency[] {
  if (!/^lockfileVersion:/m.test(text)) throw new ManifestError(path, "lockfileVersion is missing; is this a pnpm lockfile?");
  // Before v6 keys are "/name/version" and peers follow an underscore.
  const slashKeys = /^lockfileVersion:\s*['"]?[1-5](\.|['"]?\s*$)/m.test(text);
  const out: Dependency[] = [];
  let inPackages = false;
  for (const line of text.split(/\r?\n/)) {
    if (/^\S/.test(line)) {
      inPackages = /^packages:\s*$/.test(line);
      continue;
    }
    if (!inPackages) continue;
    const key = /^ {2}(['"]?)(\S.*?)\1:\s*$/.exec(line);
    if (!key) continue;
    const spec = cutAt(trimStart(key[2]!, "/"), "(");
    let name: string;
    let version: string;
    if (slashKeys) {
      // name/1.2.3_peer@1.0.0 (a scoped name has one more slash).
      const slash = cutAt(spec, "_").lastIndexOf("/");
      name = spec.slice(0, slash);
      version = cutAt(spec.slice(slash + 1), "_");
    } else {
      const at = spec.indexOf("@", 1);
      name = spec.slice(0, at);
      version = spec.slice(at + 1);
    }
    if (name && isRegistryVersion(version)) out.push({ ecosystem: "npm", name, version });
  }
  return out;
}

// --- Python ------------------------------------------------------------------------------

/** PEP 503 normalised project name: what PyPI and OSV key on. */
export function pypiName(name: string): string {
  return name.trim().toLowerCase().replace(/[-_.]+/g, "-");
}

/** requirements.txt: exact pins ("name==1.2.3", "name[extra]===1.2.3"); ranges cannot be resolved from the file alone. */
function parseRequirements(text: string): Dependency[] {
  const out: Dependency[] = [];
  for (const raw of text.replace(/\\\r?\n/g, " ").split(/\r?\n/)) {
    const line = withoutComment(raw).trim();
    if (!line || line.startsWith("-")) continue; // -r other.txt, -e ., --index-url …
    const pin = requirementPin(line);
    if (pin) out.push({ ecosystem: "PyPI", name: pypiName(pin.name), version: pin.version });
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

function parsePoetryLock(text: string, path: string): Dependency[] {
  const packages = tomlPackages(text, path);
  if (packages.length === 0 && text.trim() && !text.includes("[metadata]")) throw new ManifestError(path, "no [[package]] tables found; is this a Poetry lockfile?");
  const out: Dependency[] = [];
  for (const p of packages) {
    const name = stringField(p, "name");
    const version = stringField(p, "version");
    // Packages from a local path, a URL or a git checkout are not on PyPI ("legacy" is a private index).
    const sourceType = isRecord(p.source) ? stringField(p.source, "type") : undefined;
    if (name && version && !["git", "directory", "file", "url"].includes(sourceType ?? "")) out.push({ ecosystem: "PyPI", name: pypiName(name), version });
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
      if (version) out.push({ ecosystem: "PyPI", name: pypiName(name), version });
    }
  }
  return out;
}

// --- Go ----------------------------------------------------------------------------------

/** Compares Go module versions (semver with a "v"): positive when a > b. */
function compareGoVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const plain = v.replace(/^v/, "").replace(/\+incompatible$/, "");
    const dash = plain.indexOf("-");
    const [core, pre] = dash < 0 ? [plain] : [plain.slice(0, dash), plain.slice(dash + 1)];
    return { parts: core!.split(".").map((n) => Number(n) || 0), pre: pre ?? "" };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) if ((x.parts[i] ?? 0) !== (y.parts[i] ?? 0)) return (x.parts[i] ?? 0) - (y.parts[i] ?? 0);
  if (x.pre === y.pre) return 0;
  if (!x.pre) return 1;
  if (!y.pre) return -1;
  return x.pre < y.pre ? -1 : 1;
}

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
    if (parts.length !== 3 || !parts[2]!.startsWith("h1:")) throw new ManifestError(path, `unexpected line "${line.slice(0, 80)}": go.sum lines are "module version h1:hash".`);
    const version = parts[1]!.replace(/\/go\.mod$/, "");
    const current = highest.get(parts[0]!);
    if (!current || compareGoVersions(version, current) > 0) highest.set(parts[0]!, version);
  }
  return [...highest].map(([name, version]) => ({ ecosystem: "Go" as const, name, version }));
}

/**
 * go.mod: the require directives (a block or single lines). Since Go 1.17 a module's go.mod
 * lists every module its build uses, at the selected version; replaced modules are left out.
 */
function parseGoMod(text: string, path: string): Dependency[] {
  // Each line as its words, comments dropped: ["require", "(", …], ["golang.org/x/net", "v0.1.0"].
  const lines = text.split(/\r?\n/).map((raw) => words(cutAt(raw, "//")));
  if (!lines.some((w) => w[0] === "module" && w.length > 1)) throw new ManifestError(path, 'no "module" directive; is this a go.mod file?');
  const requires: { name: string; version: string }[] = [];
  const replaced = new Set<string>();
  let block = "";
  for (const w of lines) {
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
    if (directive === "require" && args.length >= 2 && args[1]!.startsWith("v")) requires.push({ name: args[0]!, version: args[1]! });
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
    if (version && !version.startsWith("[") && !version.startsWith("(")) out.push({ ecosystem: "Maven", name, version });
  }
  return out;
}

// --- Ruby, Rust --------------------------------------------------------------------------

/** Gemfile.lock: the specs of its GEM sections ("    rails (7.0.4)"; a platform suffix dropped). */
function parseGemfileLock(text: string, path: string): Dependency[] {
  if (!/^GEM$/m.test(text) && !/^DEPENDENCIES$/m.test(text)) throw new ManifestError(path, "no GEM section; is this a Gemfile.lock?");
  const out: Dependency[] = [];
  let section = "";
  let inSpecs = false;
  for (const line of text.split(/\r?\n/)) {
    if (/^\S/.test(line)) {
      section = line.trim();
      inSpecs = false;
      continue;
    }
    if (section !== "GEM") continue;
    if (/^ {2}specs:\s*$/.test(line)) {
      inSpecs = true;
      continue;
    }
    const spec = inSpecs && /^ {4}([A-Za-z0-9_.-]+) \(([^)]+)\)\s*$/.exec(line);
    if (spec) out.push({ ecosystem: "RubyGems", name: spec[1]!, version: spec[2]!.split("-")[0]! });
  }
  return out;
}

/** Cargo.lock: packages from crates.io (workspace members and git sources left out). */
function parseCargoLock(text: string, path: string): Dependency[] {
  const packages = tomlPackages(text, path);
  if (packages.length === 0 && text.trim()) throw new ManifestError(path, "no [[package]] tables found; is this a Cargo lockfile?");
  const out: Dependency[] = [];
  for (const p of packages) {
    const name = stringField(p, "name");
    const version = stringField(p, "version");
    if (name && version && stringField(p, "source")?.startsWith("registry+")) out.push({ ecosystem: "crates.io", name, version });
  }
  return out;
}
