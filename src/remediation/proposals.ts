// Fix proposals: for a finding in a repository, the change Patchbay would commit to raise the
// vulnerable package to a fixed version — one per (repository, manifest, package), reaching
// every open finding of that package there — with the branch, title and body of its pull
// request. Nothing is sent: this is what "Propose fix" shows. Only changes that are correct
// without a person are proposed; otherwise the reason says why.
import crypto from "node:crypto";
import { structuredPatch } from "diff";
import type { Services } from "../services.js";
import type { Db } from "../db/schema.js";
import { connectorContext } from "../connectors/context.js";
import { connectionFor } from "../integrations/oauth.js";
import { loadConnected } from "../integrations/store.js";
import { ExternalError } from "../http.js";
import { ecosystemFamily } from "../vuln/ecosystems.js";
import { packageKey } from "../vuln/packages.js";
import { MAX_MANIFEST_BYTES, ManifestError, formatEcosystem, manifestFormat, parseManifest } from "../vuln/manifests.js";
import { compareVersions, versionProblem } from "../vuln/versions/index.js";
import { isCveId } from "../vuln/advisories.js";
import { raiseMaven } from "./fixers/maven.js";
import { parseBump } from "./fixes.js";
import { ownersOfFile } from "../routing/ownership.js";
import { type FileChange, type FixOutcome, cannot } from "./fixers/types.js";
import { raiseRequirement } from "./fixers/requirements.js";
import { type NpmTools, raiseNpm } from "./fixers/npm.js";
import { type GoTools, raiseGo } from "./fixers/go.js";
import { ModuleArchiveError, hashModuleZip } from "./fixers/go-hash.js";
import { compareTags, finalBaseImage, higherTagOfLine, moveBaseImage } from "./fixers/dockerfile.js";
import { cvesPresent, openFindingsOfImage, scannedImagesOf } from "./base-images.js";
import { type NpmEnvironment, type NpmRegistry, NpmRunError, npmVersion, npmVersions, runNpm } from "./npm-run.js";
import type { ConnectionSettings, PackageRegistry, RepositoryFiles } from "../connectors/types.js";
import { repositoryRemediation } from "./settings.js";

/** What a fixer may ask for while it writes a change: the index's digests of a version's files, the repository's other files, npm, the Go module proxy. */
interface FixTools extends NpmTools, GoTools {
  hashes(name: string, version: string): Promise<string[]>;
}

interface Fixer {
  /** The manifest format it edits (manifestFormat's label). */
  manifest: string;
  /** Lockfiles of the same ecosystem that only their package manager can rewrite, with its name. */
  leftAlone: Record<string, string>;
  raise(path: string, text: string, name: string, from: string, to: string, tools: FixTools): Promise<FixOutcome>;
}

/** The manifests Patchbay writes fixes in, each with its fixer; which ecosystem each serves is the format's. */
const FIXERS: Fixer[] = [
  { manifest: "pom.xml", leftAlone: { "gradle.lockfile": "Gradle" }, raise: async (path, text, name, _from, to) => raiseMaven(path, text, name, to) },
  {
    manifest: "requirements.txt",
    leftAlone: { "poetry.lock": "Poetry", "Pipfile.lock": "Pipenv", "uv.lock": "uv" },
    raise: (path, text, name, _from, to, tools) => raiseRequirement(path, text, name, to, tools.hashes),
  },
  {
    manifest: "package-lock.json",
    leftAlone: { "yarn.lock": "Yarn", "pnpm-lock.yaml": "pnpm", "bun.lock": "Bun" },
    raise: (path, text, name, from, to, tools) => raiseNpm(path, text, name, from, to, tools),
  },
  { manifest: "go.mod", leftAlone: {}, raise: (path, text, name, from, to, tools) => raiseGo(path, text, name, from, to, tools) },
];

/** npm runs already made for the same files, arguments and registry (a page view, then its Open pull request). */
const npmRuns = new Map<string, { at: number; files: Promise<Record<string, string>> }>();
const NPM_RUNS_KEPT = 32;
const NPM_RUN_TTL_MS = 10 * 60_000;

/**
 * The package registry a fix reads from: the organisation's (the first connected integration of
 * a registry connector with the capability, with its credentials), else — where `fallback` —
 * the first such connector's public default (no credentials). Undefined when none has it.
 */
async function registryOf(
  deps: Services,
  has: (registry: PackageRegistry) => boolean,
  fallback: boolean,
): Promise<{ registry: PackageRegistry; connection: ConnectionSettings } | undefined> {
  const connectors = deps.catalogue.all().filter((c) => c.packages && has(c.packages));
  if (connectors.length === 0) return undefined;
  const integration = await deps.db
    .selectFrom("integrations")
    .selectAll()
    .where(
      "kind",
      "in",
      connectors.map((c) => c.card.kind),
    )
    .orderBy("id")
    .executeTakeFirst();
  const connector = integration && connectors.find((c) => c.card.kind === integration.kind);
  if (connector && integration) return { registry: connector.packages!, connection: await connectionFor(deps, connector, integration) };
  return fallback ? { registry: connectors[0]!.packages!, connection: { settings: {}, secrets: {} } } : undefined;
}

/**
 * The registry npm runs against: the organisation's (the first connected npm registry
 * integration, with its credentials) else the public registry; through the origin map, as
 * every connection (tests point it at a simulator).
 */
async function npmRegistry(deps: Services): Promise<NpmRegistry> {
  const found = await registryOf(deps, (r) => r.ecosystem === "npm" && r.installerConfig !== undefined, false);
  const config = found ? found.registry.installerConfig!(found.connection) : { url: "https://registry.npmjs.org/", credentials: [] };
  const url = new URL(config.url);
  const mapped = deps.env.originMap.get(url.origin);
  if (!mapped) return config;
  const target = new URL(mapped);
  // The credentials' scope follows the address npm is given.
  const scope = (u: URL) => `//${u.host}${u.pathname}`;
  const moved = new URL(url.pathname, target);
  return { url: moved.href, credentials: config.credentials.map((line) => line.replace(scope(url), scope(moved))) };
}

/**
 * The digests a fixer writes, from the ecosystem's package registry: the organisation's (the
 * first connected integration of a registry connector that gives digests, with its credentials),
 * else that connector's public default index. The repository's other files, read from its
 * default branch; npm, run in a folder of its own (see npm-run.ts).
 */
function registryTools(deps: Services, ecosystem: string, files: RepositoryFiles): FixTools {
  const npmEnv: NpmEnvironment = { proxy: deps.env.proxy, denyPrivate: deps.env.denyPrivate };
  /** The module proxy: the first connected one (with its credentials), else the connector's default (proxy.golang.org). */
  const goProxy = async () => {
    const found = await registryOf(deps, (r) => r.ecosystem === "Go" && r.moduleFile !== undefined, true);
    if (!found) throw new ExternalError("remote", "Go module proxy", "No connector reads Go modules from a module proxy.");
    return (path: string, version: string, kind: "mod" | "zip") =>
      found.registry.moduleFile!(found.connection, connectorContext(deps.env), path, version, kind);
  };
  let proxyFile: ReturnType<typeof goProxy> | undefined;
  const mods = new Map<string, Promise<string>>();
  return {
    goMod(path, version) {
      const key = `${path}@${version}`;
      let mod = mods.get(key);
      if (!mod) {
        mod = (proxyFile ??= goProxy()).then(async (file) => Buffer.from(await file(path, version, "mod")).toString("utf8"));
        mods.set(key, mod);
      }
      return mod;
    },
    async goZipHash(path, version) {
      const zip = await (await (proxyFile ??= goProxy()))(path, version, "zip");
      try {
        return hashModuleZip(zip, path, version);
      } catch (err) {
        if (err instanceof ModuleArchiveError) throw new ExternalError("remote", "Go module proxy", `${err.message}.`);
        throw err;
      }
    },
    async read(path) {
      try {
        return await files.read(path, MAX_MANIFEST_BYTES);
      } catch (err) {
        if (err instanceof ExternalError && err.status === 404) return undefined;
        throw err;
      }
    },
    async npm(input, args) {
      const registry = await npmRegistry(deps);
      const key = crypto
        .createHash("sha256")
        .update(JSON.stringify([input, args, registry]))
        .digest("hex");
      const now = Date.now();
      for (const [k, v] of npmRuns) if (now - v.at > NPM_RUN_TTL_MS) npmRuns.delete(k);
      let run = npmRuns.get(key);
      if (!run) {
        run = { at: now, files: runNpm(input, args, registry, npmEnv) };
        npmRuns.set(key, run);
        run.files.catch(() => npmRuns.delete(key));
        if (npmRuns.size > NPM_RUNS_KEPT) npmRuns.delete(npmRuns.keys().next().value!);
      }
      return run.files;
    },
    npmVersion: () => npmVersion(npmEnv),
    npmVersions: async (name) => npmVersions(name, await npmRegistry(deps), npmEnv),
    async hashes(name, version) {
      const found = await registryOf(deps, (r) => r.ecosystem === ecosystem && r.distributionHashes !== undefined, true);
      if (!found) throw new ExternalError("remote", ecosystem, `No package registry connector gives ${ecosystem} digests.`);
      return found.registry.distributionHashes!(found.connection, connectorContext(deps.env), name, version);
    },
  };
}

export interface ProposedFinding {
  id: number;
  cve: string | null;
  severity: string;
  installedVersion: string;
  fixedVersion: string | null;
}

export interface Proposal {
  repository: { id: number; integrationId: number; fullName: string; defaultBranch: string; url: string | null; externalId: string | null };
  path: string;
  ecosystem: string;
  package: string;
  from: string;
  to: string;
  /** Why this version: the lowest that fixes every finding listed. */
  why: string;
  /** How the file changes (which element or property). */
  how: string;
  changes: FileChange[];
  branch: string;
  title: string;
  body: string;
  findings: ProposedFinding[];
  /** Who CODEOWNERS names for the manifest: asked to review, where the service can. */
  reviewers: string[];
}

export type ProposalResult = { proposals: Proposal[]; reasons: string[] };

/** The fixes a finding's repository would take for its package (possibly in several manifests), or why there are none. */
export async function proposeFixes(deps: Services, findingId: number): Promise<ProposalResult> {
  const { db } = deps;
  const finding = await db
    .selectFrom("findings")
    .innerJoin("assets", "assets.id", "findings.asset_id")
    .select([
      "findings.id",
      "findings.ecosystem",
      "findings.package",
      "findings.package_lc",
      "findings.installed_version",
      "findings.status",
      "findings.cve",
      "findings.asset_id",
      "assets.kind",
      "assets.repository_id",
    ])
    .where("findings.id", "=", findingId)
    .executeTakeFirst();
  if (!finding) return none("There is no such finding.");
  if (finding.status !== "open" && finding.status !== "in_remediation") return none("The finding is not open: there is nothing to fix.");
  if (finding.kind === "container_image") return proposeBaseImage(deps, finding);
  if (finding.repository_id === null) return none("The finding is on no repository: Patchbay proposes fixes in a repository's files.");
  const family = ecosystemFamily(finding.ecosystem);
  const fixer = family ? FIXERS.find((f) => ecosystemFamily(formatEcosystem(f.manifest)) === family) : undefined;
  if (!fixer) {
    return none(
      `Patchbay writes fixes for Maven pom.xml, pip requirements files, npm package-lock.json and Go modules; ${finding.ecosystem ?? "this package's"} manifests are left to people (no pull request is opened).`,
    );
  }
  const source = await sourceControl(deps, finding.repository_id);
  if ("reason" in source) return none(source.reason);
  const { repository, files } = source;

  // Every open finding of this package in the repository: one pull request fixes them all.
  const siblings = await openFindingsOf(db, finding.repository_id, finding.package_lc);
  const key = packageKey(finding.ecosystem, finding.package);
  const reasons: string[] = [];
  const fixable = siblings.filter((s) => ecosystemFamily(s.ecosystem) === family && packageKey(s.ecosystem, s.package) === key);
  const { settings } = await repositoryRemediation(db, repository.id);
  const target = targetVersion(finding.ecosystem, finding.installed_version, fixable, settings.majorUpgrades);
  if ("reason" in target) return none(target.reason);

  let listing;
  try {
    listing = await files.list();
  } catch (err) {
    if (err instanceof ExternalError) return none(`The files of ${repository.full_name} could not be listed: ${err.message}`);
    throw err;
  }
  /** A manifest's text and whether it pins the package; a file that cannot be read is a reason where `said`. */
  const readManifest = async (path: string, said: boolean): Promise<{ path: string; text: string; declares: boolean } | undefined> => {
    try {
      const text = await files.read(path, MAX_MANIFEST_BYTES);
      return { path, text, declares: parseManifest(path, text).some((d) => packageKey(d.ecosystem, d.name) === key) };
    } catch (err) {
      if (!(err instanceof ManifestError || err instanceof ExternalError)) throw err;
      if (said) reasons.push(`${path}: ${err.message}`);
      return undefined;
    }
  };
  // A lockfile only its package manager can rewrite: said, and left as it is.
  for (const file of listing) {
    const format = manifestFormat(file.path) ?? "";
    if (fixer.leftAlone[format] === undefined) continue;
    if ((await readManifest(file.path, false))?.declares) {
      reasons.push(`${file.path} pins ${finding.package} too, and ${fixer.leftAlone[format]} must resolve it: Patchbay does not rewrite ${format} files.`);
    }
  }
  const manifests = listing
    .filter((f) => manifestFormat(f.path) === fixer.manifest)
    .sort((a, b) => a.path.split("/").length - b.path.split("/").length || a.path.localeCompare(b.path));
  if (manifests.length === 0) return { proposals: [], reasons: [...reasons, `${repository.full_name} has no ${fixer.manifest} on its default branch.`] };
  // The manifests that declare the package; a transitive one is pinned in the top-most manifest.
  const read: { path: string; text: string; declares: boolean }[] = [];
  for (const file of manifests) {
    const manifest = await readManifest(file.path, true);
    if (manifest) read.push(manifest);
  }
  const targets = read.some((r) => r.declares) ? read.filter((r) => r.declares) : read.slice(0, 1);
  const proposals: Proposal[] = [];
  const tools = registryTools(deps, formatEcosystem(fixer.manifest)!, files);
  const tickets = targets.length
    ? await ticketKeys(
        db,
        target.findings.map((f) => f.id),
      )
    : [];
  for (const manifest of targets) {
    const branch = branchName(family!, finding.package, manifest.path);
    // Checked before the change is made: a declined version costs no request to the index.
    const declined = await declinedVersion(db, repository.id, branch, finding.ecosystem);
    if (declined && (compareVersions(finding.ecosystem, target.to, declined.version) ?? 1) <= 0) {
      reasons.push(
        `A person declined the fix to ${declined.version} in ${manifest.path} (pull request #${declined.number}, closed without merging): Patchbay proposes it again once a fixed version above ${declined.version} is known.`,
      );
      continue;
    }
    let outcome: FixOutcome;
    try {
      outcome = await fixer.raise(manifest.path, manifest.text, finding.package, finding.installed_version, target.to, tools);
    } catch (err) {
      // The index could not give what the file needs (its digests), npm could not resolve: no change rather than a half one.
      if (!(err instanceof ExternalError || err instanceof NpmRunError)) throw err;
      outcome = cannot(`${manifest.path}: ${err.message}`);
    }
    if (!outcome.ok) {
      reasons.push(outcome.reason);
      continue;
    }
    const title = bumpTitle(finding.package, finding.installed_version, target.to, manifest.path);
    proposals.push({
      repository: proposalRepository(source),
      path: manifest.path,
      ecosystem: finding.ecosystem!,
      package: finding.package,
      from: finding.installed_version,
      to: target.to,
      why: target.why,
      how: outcome.how,
      changes: outcome.changes,
      branch,
      title,
      body: pullRequestBody(
        { package: finding.package, from: finding.installed_version, to: target.to, path: manifest.path, how: outcome.how, why: target.why, branch },
        target.findings,
        tickets,
      ),
      findings: target.findings,
      reviewers: await ownersOfFile(db, repository.id, manifest.path),
    });
  }
  return { proposals, reasons };
}

/** The repository as its source control integration reaches it, with its files; or why it cannot be written. */
type SourceControl =
  | { reason: string }
  | {
      repository: {
        id: number;
        integration_id: number | null;
        full_name: string;
        default_branch: string | null;
        url: string | null;
        external_id: string | null;
      };
      found: NonNullable<Awaited<ReturnType<typeof loadConnected>>>;
      files: RepositoryFiles;
    };

async function sourceControl(deps: Services, repositoryId: number): Promise<SourceControl> {
  const repository = await deps.db
    .selectFrom("repositories")
    .select(["id", "integration_id", "full_name", "default_branch", "archived", "url", "external_id"])
    .where("id", "=", repositoryId)
    .executeTakeFirst();
  const found = repository?.integration_id ? await loadConnected(deps.db, deps.catalogue, repository.integration_id, "scm") : undefined;
  if (!repository || !found)
    return { reason: "The repository is not reached through a connected source control integration: connect it from the Integration Hub." };
  if (repository.archived) return { reason: `${repository.full_name} is archived: nothing can be pushed to it.` };
  const files = found.connector.scm.files(await connectionFor(deps, found.connector, found.integration), connectorContext(deps.env), {
    fullName: repository.full_name,
    defaultBranch: repository.default_branch,
  });
  return { repository, found, files };
}

/** The repository a proposal writes to, as the open job needs it. */
function proposalRepository(source: Exclude<SourceControl, { reason: string }>): Proposal["repository"] {
  const { repository, found } = source;
  return {
    id: repository.id,
    integrationId: found.integration.id,
    fullName: repository.full_name,
    defaultBranch: repository.default_branch ?? "main",
    url: repository.url,
    externalId: repository.external_id,
  };
}

/** Dependabot's title, which the pull request flow reads back ("Bump X from A to B in /dir"). */
function bumpTitle(name: string, from: string, to: string, path: string): string {
  return `Bump ${name} from ${from} to ${to}${path.includes("/") ? ` in /${path.slice(0, path.lastIndexOf("/"))}` : ""}`;
}

/** Dockerfiles by name: Dockerfile, Containerfile, *.Dockerfile, Dockerfile.* (not vendored copies). */
function isDockerfile(path: string): boolean {
  if (/(^|\/)(node_modules|vendor|\.git)\//.test(path)) return false;
  const base = path.slice(path.lastIndexOf("/") + 1);
  return base === "Dockerfile" || base === "Containerfile" || base.endsWith(".Dockerfile") || base.startsWith("Dockerfile.");
}

/**
 * A container image's finding: the final FROM of the Dockerfiles of the image's source
 * repository moved to a higher tag of the same line, chosen among the digests scans reported
 * on without the CVE (the lowest such tag); never where the current base is itself reported
 * without it (the CVE is in the image's own layers).
 */
async function proposeBaseImage(
  deps: Services,
  finding: { id: number; cve: string; asset_id: number; repository_id: number | null; package: string },
): Promise<ProposalResult> {
  const { db } = deps;
  if (finding.repository_id === null) {
    return none(
      "The image is not linked to its source repository (its org.opencontainers.image.source label, read by the registry integration): Patchbay cannot tell which Dockerfile builds it.",
    );
  }
  const source = await sourceControl(deps, finding.repository_id);
  if ("reason" in source) return none(source.reason);
  const { repository, files } = source;
  let listing;
  try {
    listing = await files.list();
  } catch (err) {
    if (err instanceof ExternalError) return none(`The files of ${repository.full_name} could not be listed: ${err.message}`);
    throw err;
  }
  const dockerfiles = listing.filter((f) => isDockerfile(f.path)).slice(0, 20);
  if (dockerfiles.length === 0) return none(`${repository.full_name} has no Dockerfile on its default branch.`);
  const open = await openFindingsOfImage(db, finding.asset_id);
  const cves = [...new Set([finding.cve, ...open.map((f) => f.cve)])];
  const reasons: string[] = [];
  const proposals: Proposal[] = [];
  for (const file of dockerfiles) {
    let text: string;
    try {
      text = await files.read(file.path, MAX_MANIFEST_BYTES);
    } catch (err) {
      if (!(err instanceof ExternalError)) throw err;
      reasons.push(`${file.path}: ${err.message}`);
      continue;
    }
    const base = finalBaseImage(file.path, text);
    if ("reason" in base) {
      reasons.push(base.reason);
      continue;
    }
    const { repository: image, tag, digest } = base.reference;
    const images = await scannedImagesOf(db, image);
    const present = await cvesPresent(
      db,
      images.map((i) => i.assetId),
      cves,
    );
    const current = images.filter((i) => i.refs.some((r) => r.tag === tag) || (digest !== undefined && i.digest === digest));
    if (current.length && current.every((i) => !present.get(i.assetId)?.has(finding.cve))) {
      reasons.push(
        `${file.path}: ${base.text} is reported without ${finding.cve}, so it comes from the image's own layers, not its base: a new base would not fix it.`,
      );
      continue;
    }
    const branch = branchName("docker", image, file.path);
    const declined = await declinedVersion(db, repository.id, branch, null);
    const candidates = images
      .flatMap((i) => i.refs.filter((r) => r.tag && higherTagOfLine(tag!, r.tag)).map((r) => ({ tag: r.tag!, image: i })))
      .filter((c) => !present.get(c.image.assetId)?.has(finding.cve))
      .filter((c) => !declined || compareTags(c.tag, declined.version) > 0)
      .sort((a, b) => compareTags(a.tag, b.tag) || (a.image.scannedAt < b.image.scannedAt ? 1 : -1));
    const pick = candidates[0];
    if (!pick) {
      reasons.push(
        declined
          ? `A person declined the move to ${declined.version} in ${file.path} (pull request #${declined.number}, closed without merging): Patchbay proposes a higher tag once a scan reports one without ${finding.cve}.`
          : `${file.path}: no higher ${tag} tag of ${image} (the same variant and major version) has been reported by a scan or an upload without ${finding.cve}. Scan one (trivy image ${image.replace(/^docker\.io\/(library\/)?/, "")}:<tag>) and upload it, then propose again.`,
      );
      continue;
    }
    const outcome = moveBaseImage(file.path, text, base, pick.tag, pick.image.digest);
    if (!outcome.ok) {
      reasons.push(outcome.reason);
      continue;
    }
    // What the move fixes: the CVEs the current base has (where a scan says; else this finding's) that the new one does not.
    const inBase = current.length ? new Set(current.flatMap((i) => [...(present.get(i.assetId) ?? [])])) : new Set([finding.cve]);
    const fixes = open.filter((f) => inBase.has(f.cve) && !present.get(pick.image.assetId)?.has(f.cve));
    const findings: ProposedFinding[] = fixes.map((f) => ({
      id: f.id,
      cve: f.cve,
      severity: f.severity,
      installedVersion: f.installed_version,
      fixedVersion: f.fixed_version,
    }));
    const shortName = image.replace(/^docker\.io\/(library\/)?/, "");
    const why = `${pick.tag} (${pick.image.digest.slice(0, 19)}…) was reported without ${fixes.length === 1 ? finding.cve : `these ${fixes.length} CVEs`} by a scan on ${pick.image.scannedAt.slice(0, 10)}; it is the lowest higher ${tag} tag so reported.`;
    const title = bumpTitle(shortName, tag!, pick.tag, file.path);
    proposals.push({
      repository: proposalRepository(source),
      path: file.path,
      ecosystem: "Docker",
      package: shortName,
      from: tag!,
      to: pick.tag,
      why,
      how: outcome.how,
      changes: outcome.changes,
      branch,
      title,
      body: pullRequestBody(
        { package: shortName, from: tag!, to: pick.tag, path: file.path, how: outcome.how, why, branch },
        findings,
        await ticketKeys(
          db,
          findings.map((f) => f.id),
        ),
      ),
      findings,
      reviewers: await ownersOfFile(db, repository.id, file.path),
    });
  }
  return { proposals, reasons };
}

function none(reason: string): ProposalResult {
  return { proposals: [], reasons: [reason] };
}

function openFindingsOf(db: Db, repositoryId: number, packageLc: string) {
  return db
    .selectFrom("findings")
    .innerJoin("assets", "assets.id", "findings.asset_id")
    .select([
      "findings.id",
      "findings.cve",
      "findings.severity",
      "findings.severity_rank",
      "findings.ecosystem",
      "findings.package",
      "findings.installed_version",
      "findings.fixed_version",
    ])
    .where("assets.repository_id", "=", repositoryId)
    .where("findings.package_lc", "=", packageLc)
    .where("findings.status", "in", ["open", "in_remediation"])
    .orderBy("findings.severity_rank", "desc")
    .orderBy("findings.id")
    .execute();
}

type Sibling = Awaited<ReturnType<typeof openFindingsOf>>[number];

/**
 * The version to raise to: the highest of the fixed versions of the package's open findings at
 * the installed version (the lowest that fixes them all). A major upgrade is proposed only where
 * the repository's remediation settings allow it.
 */
function targetVersion(
  ecosystem: string | null,
  installed: string,
  siblings: Sibling[],
  majorUpgrades: boolean,
): { to: string; why: string; findings: ProposedFinding[] } | { reason: string } {
  const here = siblings.filter((s) => s.installed_version === installed);
  const withFix = here.filter((s) => s.fixed_version);
  if (withFix.length === 0) return { reason: `No fixed version of this package is known for the findings at ${installed}.` };
  let to: string | undefined;
  for (const s of withFix) {
    // Scanners list a fix per release line ("2.15.0, 2.12.2"): the lowest above the installed version.
    const candidates = s.fixed_version!.split(/[,\s|]+/).filter(Boolean);
    const unreadable = candidates.map((c) => versionProblem(ecosystem, c)).find((p) => p);
    if (unreadable) return { reason: `The fixed version "${s.fixed_version!.slice(0, 60)}" cannot be read: ${unreadable}` };
    const above = candidates.filter((c) => (compareVersions(ecosystem, c, installed) ?? 0) > 0);
    if (above.length === 0) return { reason: `No fixed version above the installed ${installed} is known for ${s.cve ?? "a finding"} (${s.fixed_version}).` };
    const lowest = above.reduce((a, b) => ((compareVersions(ecosystem, b, a) ?? 0) < 0 ? b : a));
    if (to === undefined || (compareVersions(ecosystem, lowest, to) ?? 0) > 0) to = lowest;
  }
  if ((compareVersions(ecosystem, to!, installed) ?? 0) <= 0) return { reason: `The fixed version ${to} is not above the installed ${installed}.` };
  const major = (v: string) => /^v?(\d+)/.exec(v)?.[1];
  if (!majorUpgrades && major(to!) !== undefined && major(to!) !== major(installed)) {
    return {
      reason: `The fix requires a major upgrade (${installed} → ${to}), which may break the build: major upgrades are off for this repository (an admin allows them in its Remediation settings).`,
    };
  }
  const findings = withFix.map((s) => ({ id: s.id, cve: s.cve, severity: s.severity, installedVersion: s.installed_version, fixedVersion: s.fixed_version }));
  const why =
    withFix.length === 1
      ? `${to} is the lowest version that fixes ${withFix[0]!.cve ?? "the finding"}.`
      : `${to} is the lowest version that fixes all ${withFix.length} findings of this package here.`;
  return { to: to!, why, findings };
}

/**
 * The version of the fix a person declined on this branch: its latest pull request, closed
 * without merging (Dependabot and Renovate do not propose that version again either).
 */
async function declinedVersion(
  db: Db,
  repositoryId: number,
  branch: string,
  ecosystem: string | null,
): Promise<{ version: string; number: number } | undefined> {
  const latest = await db
    .selectFrom("remediations")
    .select(["number", "title", "state"])
    .where("repository_id", "=", repositoryId)
    .where("source_branch", "=", branch)
    .orderBy("updated_at", "desc")
    .orderBy("id", "desc")
    .executeTakeFirst();
  if (!latest || latest.state !== "closed") return undefined;
  const bump = parseBump(latest.title);
  return bump && !versionProblem(ecosystem, bump.to) ? { version: bump.to, number: latest.number } : undefined;
}

/** A stable branch per (ecosystem, package, manifest): running again updates the same one. */
export function branchName(family: string, pkg: string, path: string): string {
  const slug = pkg
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[-.]+/, "")
    .slice(0, 60);
  let end = slug.length;
  while (end > 0 && (slug[end - 1] === "-" || slug[end - 1] === ".")) end--;
  const trimmed = slug.slice(0, end);
  const hash = crypto.createHash("sha256").update(`${family}\u0000${pkg}\u0000${path}`).digest("hex").slice(0, 8);
  return `patchbay/fix-${family}-${trimmed || "package"}-${hash}`;
}

async function ticketKeys(db: Db, findingIds: number[]): Promise<string[]> {
  if (findingIds.length === 0) return [];
  const rows = await db
    .selectFrom("ticket_findings")
    .innerJoin("tickets", "tickets.id", "ticket_findings.ticket_id")
    .select("tickets.external_key")
    .distinct()
    .where("ticket_findings.finding_id", "in", findingIds)
    .where("tickets.external_key", "is not", null)
    .orderBy("tickets.external_key")
    .execute();
  return rows.map((r) => r.external_key!);
}

/** Markdown text from scanner data: characters that would format or link escaped. */
function md(text: string): string {
  return text.replace(/[\\`*_{}[\]()<>#+!|~]/g, (c) => `\\${c}`).replace(/\s+/g, " ");
}

/** The pull request's description: what changes and why, the findings it fixes, their tickets, and Patchbay's marker. */
export function pullRequestBody(
  fix: { package: string; from: string; to: string; path: string; how: string; why: string; branch: string },
  findings: ProposedFinding[],
  tickets: string[],
): string {
  const advisory = (id: string | null) => (id && isCveId(id) ? `[${id}](https://nvd.nist.gov/vuln/detail/${id})` : md(id ?? "—"));
  const lines = [
    `Raises **${md(fix.package)}** from ${md(fix.from)} to ${md(fix.to)} in \`${fix.path.replace(/`/g, "")}\`.`,
    "",
    md(fix.why),
    "",
    "| Advisory | Severity | Fixed in |",
    "| --- | --- | --- |",
    ...findings.map((f) => `| ${advisory(f.cve)} | ${f.severity} | ${md(f.fixedVersion ?? "")} |`),
    "",
    `Changed: ${md(fix.how)}.`,
  ];
  if (tickets.length) lines.push("", `Tickets: ${tickets.map(md).join(", ")}`);
  lines.push("", "Proposed by Patchbay. Merging it resolves these findings at the next scan; closing it unmerged declines this version.");
  lines.push(`<!-- patchbay-fix ${crypto.createHash("sha256").update(fix.branch).digest("hex").slice(0, 16)} -->`);
  return lines.join("\n");
}

/** Edits past which a file's diff is shown as one hunk from the first change to the last (bounds the work on a large lockfile). */
const MAX_DIFF_EDITS = 2000;

/**
 * The changed lines of a file with three lines of context, as a unified diff: jsdiff's Myers diff
 * (changes far apart in a lockfile are separate hunks), bounded by MAX_DIFF_EDITS edits.
 */
export function unifiedDiff(change: FileChange): string {
  const patch = structuredPatch(change.path, change.path, change.before, change.after, undefined, undefined, { context: 3, maxEditLength: MAX_DIFF_EDITS });
  if (!patch) return oneHunk(change);
  return [
    `--- a/${change.path}`,
    `+++ b/${change.path}`,
    ...patch.hunks.flatMap((h) => [`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`, ...h.lines]),
  ].join("\n");
}

/** The whole changed region as one hunk (computed in linear time): the fallback for a file with too many edits. */
function oneHunk(change: FileChange): string {
  const a = change.before.split("\n");
  const b = change.after.split("\n");
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let tail = 0;
  while (tail < a.length - start && tail < b.length - start && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const from = Math.max(0, start - 3);
  const contextAfter = Math.min(3, tail);
  const removed = a.slice(start, a.length - tail);
  const added = b.slice(start, b.length - tail);
  const after = a.slice(a.length - tail, a.length - tail + contextAfter);
  const header = `@@ -${from + 1},${start - from + removed.length + after.length} +${from + 1},${start - from + added.length + after.length} @@`;
  return [
    `--- a/${change.path}`,
    `+++ b/${change.path}`,
    header,
    ...a.slice(from, start).map((l) => ` ${l}`),
    ...removed.map((l) => `-${l}`),
    ...added.map((l) => `+${l}`),
    ...after.map((l) => ` ${l}`),
  ].join("\n");
}
