// SemVer 2.0.0, as npm, Cargo, Hex, Pub and Go order versions: pre-releases sort below
// their release ("1.0.0-rc.1" < "1.0.0"), build metadata is ignored.
import semver from "semver";
import { type VersionScheme, isDigit } from "./scheme.js";

function parse(version: string, loose: boolean): semver.SemVer | null {
  return semver.parse(loose ? version.trim() : version, { loose });
}

function scheme(name: string, loose: boolean): VersionScheme {
  return {
    name,
    // The semver package accepts a leading "v" even when strict; Cargo does not.
    problem: (v) => (parse(v, loose) && (loose || isDigit(v[0])) ? null : "not MAJOR.MINOR.PATCH with an optional -pre-release and +build"),
    compare: (a, b) => semver.compare(parse(a, loose)!, parse(b, loose)!),
    prerelease: (v) => (parse(v, loose)?.prerelease.length ?? 0) > 0,
  };
}

/** npm (a leading "v" or "=" is accepted, as npm does). */
export const npmScheme = scheme("SemVer (npm)", true);
/** Cargo: strict SemVer. */
export const cargoScheme = scheme("SemVer (Cargo)", false);
/** Other registries that use SemVer (Hex, Pub, Swift, GitHub Actions tags). */
export const semverScheme = scheme("SemVer", true);

/**
 * Go modules: SemVer with a "v" (OSV writes it without), "+incompatible" for v2+ modules
 * without a go.mod (build metadata: ignored), and pseudo-versions
 * ("v0.0.0-20210101000000-abcdef123456", "v1.2.4-0.20210101000000-abcdef123456"), which are
 * pre-releases ordered by their timestamp.
 */
export const goScheme: VersionScheme = {
  name: "Go modules (SemVer)",
  problem: (v) => (parse(goVersion(v), false) ? null : "not vMAJOR.MINOR.PATCH (Go's semantic import versioning)"),
  compare: (a, b) => semver.compare(parse(goVersion(a), false)!, parse(goVersion(b), false)!),
  prerelease: (v) => (parse(goVersion(v), false)?.prerelease.length ?? 0) > 0,
};

function goVersion(v: string): string {
  return v.startsWith("v") ? v.slice(1) : v;
}
