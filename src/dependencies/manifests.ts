// Manifests and lockfiles: which package versions a repository resolves, per ecosystem, read
// from the files themselves (no package manager runs). Each parser takes the file's text and
// returns the pinned versions it names; a file it cannot read throws ManifestError with the
// reason, which the dependency monitor reports instead of guessing.

/** Ecosystem names as the OSV database spells them. */
export type Ecosystem = "npm" | "PyPI" | "Maven" | "Go" | "RubyGems" | "crates.io";

export interface Dependency {
  ecosystem: Ecosystem;
  /** npm "@scope/name", PyPI normalised, Maven "group:artifact", Go module path. */
  name: string;
  version: string;
}

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
      names = specs[0] === "__metadata" ? [] : specs.filter((s) => !NOT_FROM_REGISTRY.test(s.slice(npmName(s).length + 1))).map(npmName);
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
    const spec = key[2]!.replace(/^\//, "").replace(/\(.*$/, "");
    let name: string;
    let version: string;
    if (slashKeys) {
      // name/1.2.3_peer@1.0.0 (a scoped name has one more slash).
      const slash = spec.replace(/_.*$/, "").lastIndexOf("/");
      name = spec.slice(0, slash);
      version = spec.slice(slash + 1).replace(/_.*$/, "");
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
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (!line || line.startsWith("-")) continue; // -r other.txt, -e ., --index-url …
    const pin = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([A-Za-z0-9][A-Za-z0-9.+!-]*)\s*(?:;.*)?(?:\s--hash=.*)?$/.exec(line);
    if (pin) out.push({ ecosystem: "PyPI", name: pypiName(pin[1]!), version: pin[2]! });
  }
  return out;
}

/**
 * The `[[package]]` tables of a TOML lockfile (poetry.lock, Cargo.lock), as string fields;
 * a `[package.source]` sub-table's fields are prefixed "source.".
 */
function tomlPackages(text: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  let current: Record<string, string> | undefined;
  let prefix = "";
  for (const line of text.split(/\r?\n/)) {
    const header = /^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*$/.exec(line);
    if (header) {
      const name = header[2]!;
      if (header[1] === "[[" && name === "package") {
        current = {};
        prefix = "";
        out.push(current);
      } else if (header[1] === "[" && name.startsWith("package.") && out.length) {
        current = out.at(-1);
        prefix = `${name.slice("package.".length)}.`;
      } else {
        current = undefined;
      }
      continue;
    }
    const field = current && /^\s*([A-Za-z0-9_-]+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(line);
    if (field) current![prefix + field[1]!] = field[2]!;
  }
  return out;
}

function parsePoetryLock(text: string, path: string): Dependency[] {
  const packages = tomlPackages(text);
  if (packages.length === 0 && text.trim() && !/^\s*\[metadata\]/m.test(text)) throw new ManifestError(path, "no [[package]] tables found; is this a Poetry lockfile?");
  // Packages from a local path, a URL or a git checkout are not on PyPI ("legacy" is a private index).
  return packages.filter((p) => p.name && p.version && !["git", "directory", "file", "url"].includes(p["source.type"] ?? "")).map((p) => ({ ecosystem: "PyPI" as const, name: pypiName(p.name!), version: p.version! }));
}

function parsePipfileLock(text: string, path: string): Dependency[] {
  const lock = json(text, path);
  if (!isRecord(lock) || !isRecord(lock._meta)) throw new ManifestError(path, 'the "_meta" section is missing; is this a Pipfile.lock?');
  const out: Dependency[] = [];
  for (const section of ["default", "develop"]) {
    const deps = lock[section];
    if (!isRecord(deps)) continue;
    for (const [name, entry] of Object.entries(deps)) {
      const version = isRecord(entry) && typeof entry.version === "string" ? /^===?(.+)$/.exec(entry.version)?.[1] : undefined;
      if (version) out.push({ ecosystem: "PyPI", name: pypiName(name), version });
    }
  }
  return out;
}

// --- Go ----------------------------------------------------------------------------------

/** Compares Go module versions (semver with a "v"): positive when a > b. */
function compareGoVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const [core, pre] = v.replace(/^v/, "").replace(/\+incompatible$/, "").split(/-(.*)/s);
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
  if (!/^\s*module\s+\S+/m.test(text)) throw new ManifestError(path, 'no "module" directive; is this a go.mod file?');
  const replaced = new Set([...text.matchAll(/^\s*(?:replace\s+)?(\S+)(?:\s+v\S+)?\s+=>/gm)].map((m) => m[1]!));
  const out: Dependency[] = [];
  let inBlock = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\/\/.*$/, "").trim();
    if (/^require\s*\($/.test(line)) {
      inBlock = true;
      continue;
    }
    if (inBlock && line === ")") {
      inBlock = false;
      continue;
    }
    const m = (inBlock ? /^(\S+)\s+(v\S+)$/ : /^require\s+(\S+)\s+(v\S+)$/).exec(line);
    if (m && !replaced.has(m[1]!)) out.push({ ecosystem: "Go", name: m[1]!, version: m[2]! });
  }
  return out;
}

// --- Maven -------------------------------------------------------------------------------

function xmlText(block: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}>\\s*([^<]*?)\\s*</${tag}>`).exec(block);
  return match ? decodeXml(match[1]!) : undefined;
}

function decodeXml(text: string): string {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
}

/** Removes every `<tag>…</tag>` block (non-nested tags: dependencies, plugins, profiles). */
function without(xml: string, tag: string): string {
  return xml.replace(new RegExp(`<${tag}(\\s[^>]*)?>[\\s\\S]*?</${tag}>`, "g"), "");
}

/**
 * pom.xml: declared dependencies with their versions, ${properties} resolved (including
 * project.version and project.parent.version), versions from dependencyManagement applied.
 * Ranges ("[1.0,2.0)") and unresolved properties are left out: they are not pinned here.
 */
function parsePom(text: string, path: string): Dependency[] {
  const xml = text.replace(/<!--[\s\S]*?-->/g, "");
  if (!/<project[\s>]/.test(xml)) throw new ManifestError(path, "no <project> element; is this a Maven POM?");
  const properties = new Map<string, string>();
  const propsBlock = /<properties>([\s\S]*?)<\/properties>/.exec(without(xml, "profiles"))?.[1] ?? "";
  for (const m of propsBlock.matchAll(/<([A-Za-z0-9_.-]+)>\s*([^<]*?)\s*<\/\1>/g)) properties.set(m[1]!, decodeXml(m[2]!));
  const parent = /<parent>([\s\S]*?)<\/parent>/.exec(xml)?.[1];
  const own = ["parent", "dependencyManagement", "dependencies", "build", "profiles", "reporting", "properties", "distributionManagement", "licenses", "developers", "scm"].reduce(without, xml);
  const projectVersion = xmlText(own, "version") ?? (parent ? xmlText(parent, "version") : undefined);
  if (projectVersion) properties.set("project.version", projectVersion);
  if (parent && xmlText(parent, "version")) properties.set("project.parent.version", xmlText(parent, "version")!);
  const projectGroup = xmlText(own, "groupId") ?? (parent ? xmlText(parent, "groupId") : undefined);
  if (projectGroup) properties.set("project.groupId", projectGroup);
  const resolve = (value: string | undefined) => {
    let v = value;
    for (let i = 0; v && v.includes("${") && i < 5; i++) v = v.replace(/\$\{([^}]+)\}/g, (whole, key: string) => properties.get(key) ?? whole);
    return v && !v.includes("${") ? v : undefined;
  };
  const dependencies = (block: string) =>
    [...block.matchAll(/<dependency>([\s\S]*?)<\/dependency>/g)].map((m) => ({
      group: resolve(xmlText(m[1]!, "groupId")),
      artifact: resolve(xmlText(m[1]!, "artifactId")),
      version: resolve(xmlText(m[1]!, "version")),
      scope: xmlText(m[1]!, "scope"),
    }));
  const managed = new Map<string, string>();
  for (const block of xml.matchAll(/<dependencyManagement>([\s\S]*?)<\/dependencyManagement>/g)) {
    for (const d of dependencies(block[1]!)) if (d.group && d.artifact && d.version && d.scope !== "import") managed.set(`${d.group}:${d.artifact}`, d.version);
  }
  const declared = without(without(without(xml, "dependencyManagement"), "build"), "profiles");
  const out: Dependency[] = [];
  for (const d of dependencies(declared)) {
    if (!d.group || !d.artifact) continue;
    const name = `${d.group}:${d.artifact}`;
    const version = d.version ?? managed.get(name);
    if (version && !/^[[(]/.test(version)) out.push({ ecosystem: "Maven", name, version });
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
  const packages = tomlPackages(text);
  if (packages.length === 0 && text.trim()) throw new ManifestError(path, "no [[package]] tables found; is this a Cargo lockfile?");
  return packages
    .filter((p) => p.name && p.version && p.source?.startsWith("registry+"))
    .map((p) => ({ ecosystem: "crates.io" as const, name: p.name!, version: p.version! }));
}
