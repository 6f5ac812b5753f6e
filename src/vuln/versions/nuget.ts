// NuGet: NuGetVersion. Up to four numbers (missing ones are 0: "1.0" = "1.0.0.0"), an optional
// SemVer 2.0 pre-release ("-beta.2"; labels compared without regard to case; below the
// release) and "+metadata", which is ignored.
import { type VersionScheme, compareDigits, compareNumberLists, isDigit } from "./scheme.js";

interface NuGetVersion {
  numbers: string[];
  release: string[];
}

function parse(version: string): NuGetVersion | null {
  const text = version.trim();
  const plus = text.indexOf("+");
  const core = plus === -1 ? text : text.slice(0, plus);
  const dash = core.indexOf("-");
  const numbers = (dash === -1 ? core : core.slice(0, dash)).split(".");
  if (numbers.length > 4 || numbers.some((n) => n === "" || ![...n].every(isDigit))) return null;
  const release = dash === -1 ? [] : core.slice(dash + 1).split(".");
  if (release.some((label) => !/^[0-9A-Za-z-]+$/.test(label))) return null;
  return { numbers, release };
}

const allDigits = (s: string) => [...s].every(isDigit);

function compareLabels(a: string[], b: string[]): number {
  if (!a.length || !b.length) return a.length === b.length ? 0 : a.length ? -1 : 1;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const l = a[i];
    const r = b[i];
    if (l === undefined || r === undefined) return l === undefined ? -1 : 1;
    const ln = allDigits(l);
    const rn = allDigits(r);
    if (ln && rn) {
      const d = compareDigits(l, r);
      if (d) return d;
    } else if (ln !== rn) return ln ? -1 : 1;
    else {
      const x = l.toLowerCase();
      const y = r.toLowerCase();
      if (x !== y) return x < y ? -1 : 1;
    }
  }
  return 0;
}

export const nugetScheme: VersionScheme = {
  name: "NuGet (NuGetVersion)",
  problem: (v) => (parse(v) ? null : "not a NuGet version (up to four numbers, then an optional -pre-release)"),
  compare(a, b) {
    const x = parse(a)!;
    const y = parse(b)!;
    return compareNumberLists(x.numbers, y.numbers) || compareLabels(x.release, y.release);
  },
  prerelease: (v) => (parse(v)?.release.length ?? 0) > 0,
};
