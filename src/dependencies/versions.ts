// Version order shared by ecosystems: segment by segment, numbers as numbers. Exact for
// semver-like versions; close enough elsewhere to order one package's releases and fixes.

/** Compares versions segment by segment (numbers as numbers): enough to order one package's fixes. */
export function compareVersions(a: string, b: string): number {
  const split = (v: string) => v.replace(/^v/, "").split(/[.+_-]/);
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === undefined) return /^\d/.test(q!) ? -1 : 1; // 1.0 < 1.0.1, but 1.0 > 1.0-rc1
    if (q === undefined) return /^\d/.test(p) ? 1 : -1;
    const diff = /^\d+$/.test(p) && /^\d+$/.test(q) ? Number(p) - Number(q) : p.localeCompare(q);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** Pre-releases and development builds: "1.0.0-rc.1", "2.0b1", "1.0.dev3", "1.0-SNAPSHOT", "v0.0.0-2021…-abcdef". */
export function isPrerelease(version: string): boolean {
  const suffix = version.replace(/^v/, "").replace(/^\d+(\.\d+)*/, "");
  return /alpha|beta|rc|pre|preview|dev|snapshot|milestone|^[-.]?[abc]\d|^-?m\d|^-\d{14}/i.test(suffix);
}

/** Versions sorted oldest first, and the latest release (the highest that is not a pre-release). */
export function orderVersions(versions: string[]): { versions: string[]; latest: string | null } {
  const sorted = [...new Set(versions)].sort(compareVersions);
  const releases = sorted.filter((v) => !isPrerelease(v));
  return { versions: sorted, latest: releases.at(-1) ?? sorted.at(-1) ?? null };
}
