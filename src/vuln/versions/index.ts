// Whether one version is older, newer or the same as another, by each ecosystem's own rules,
// and therefore whether a version fixes a finding. The one place Patchbay decides it: pull
// request bumps, "N behind" on Packages, registries' latest versions and advisory lookups.
// A version the ecosystem's rules cannot read is never taken as a fix; the answer says why.
import { type Family, ecosystemFamily } from "../ecosystems.js";
import { apkScheme } from "./apk.js";
import { composerScheme } from "./composer.js";
import { debianScheme } from "./debian.js";
import { genericScheme } from "./generic.js";
import { mavenScheme } from "./maven.js";
import { nugetScheme } from "./nuget.js";
import { pep440Scheme } from "./pep440.js";
import { rpmScheme } from "./rpm.js";
import { rubygemsScheme } from "./rubygems.js";
import type { VersionScheme } from "./scheme.js";
import { cargoScheme, goScheme, npmScheme, semverScheme } from "./semver.js";

export type { VersionScheme } from "./scheme.js";

/** Longer strings are not versions (and are never handed to a parser). */
export const MAX_VERSION_LENGTH = 128;

const SCHEMES: Record<Family, VersionScheme> = {
  npm: npmScheme,
  cargo: cargoScheme,
  semver: semverScheme,
  go: goScheme,
  pypi: pep440Scheme,
  maven: mavenScheme,
  rubygems: rubygemsScheme,
  nuget: nugetScheme,
  composer: composerScheme,
  debian: debianScheme,
  apk: apkScheme,
  rpm: rpmScheme,
};

/** The ordering an ecosystem uses: an OSV name ("PyPI", "Debian:12", "Alpine:v3.19") or a scanner's package type ("pip", "deb", "apk"). */
export function versionScheme(ecosystem: string | null | undefined): VersionScheme {
  const family = ecosystemFamily(ecosystem);
  return family ? SCHEMES[family] : genericScheme;
}

/** Null when the version can be ordered in this ecosystem; else a sentence saying why not. */
export function versionProblem(ecosystem: string | null | undefined, version: string): string | null {
  const scheme = versionScheme(ecosystem);
  const shown = version.length > 40 ? `${version.slice(0, 40)}…` : version;
  if (!version.trim()) return `The version is empty, so ${scheme.name} cannot order it.`;
  if (version.length > MAX_VERSION_LENGTH)
    return `"${shown}" is longer than ${MAX_VERSION_LENGTH} characters, so it is not a version ${scheme.name} can order.`;
  const problem = scheme.problem(version);
  return problem ? `"${shown}" is ${problem}, so ${scheme.name} cannot order it.` : null;
}

/** Negative, zero or positive by the ecosystem's rules; null when either version cannot be read. */
export function compareVersions(ecosystem: string | null | undefined, a: string, b: string): number | null {
  if (versionProblem(ecosystem, a) || versionProblem(ecosystem, b)) return null;
  return Math.sign(versionScheme(ecosystem).compare(a, b));
}

export type FixVerdict = { fixed: true } | { fixed: false; reason: string };

/** Whether `version` is at or above `fixedVersion`: the finding is fixed by moving to it. */
export function fixes(ecosystem: string | null | undefined, version: string, fixedVersion: string): FixVerdict {
  const problem = versionProblem(ecosystem, version) ?? versionProblem(ecosystem, fixedVersion);
  if (problem) return { fixed: false, reason: problem };
  if (versionScheme(ecosystem).compare(version, fixedVersion) >= 0) return { fixed: true };
  return { fixed: false, reason: `${version} is older than the fixed version ${fixedVersion}.` };
}

/** A pre-release or development build in this ecosystem (false when the version cannot be read). */
export function isPrerelease(ecosystem: string | null | undefined, version: string): boolean {
  return !versionProblem(ecosystem, version) && versionScheme(ecosystem).prerelease(version);
}

/**
 * A package's versions oldest first, and its latest release (the highest that is not a
 * pre-release). Versions the ecosystem cannot read are left out of both.
 */
export function orderVersions(ecosystem: string | null | undefined, versions: string[]): { versions: string[]; latest: string | null } {
  const scheme = versionScheme(ecosystem);
  const readable = [...new Set(versions)].filter((v) => !versionProblem(ecosystem, v));
  const sorted = readable.sort((a, b) => scheme.compare(a, b));
  const releases = sorted.filter((v) => !scheme.prerelease(v));
  return { versions: sorted, latest: releases.at(-1) ?? sorted.at(-1) ?? null };
}

/** Versions in `candidates` above `installed`, lowest first (readable ones only). */
export function versionsAbove(ecosystem: string | null | undefined, installed: string, candidates: string[]): string[] {
  if (versionProblem(ecosystem, installed)) return [];
  const scheme = versionScheme(ecosystem);
  return [...new Set(candidates)].filter((v) => !versionProblem(ecosystem, v) && scheme.compare(v, installed) > 0).sort((a, b) => scheme.compare(a, b));
}
