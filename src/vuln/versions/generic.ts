// Versions of an ecosystem Patchbay has no rules for: numbers separated by dots (any
// count, a leading "v" allowed), then SemVer's optional -pre-release; +build is ignored.
// Anything else cannot be ordered, so it is never taken as a fix.
import { type VersionScheme, compareDigits, isDigit } from "./scheme.js";

const GENERIC = /^v?[0-9]+(?:\.[0-9]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z.-]*)?$/;

function parse(version: string): { numbers: string[]; pre: string[] } {
  let v = version.trim();
  if (v.startsWith("v")) v = v.slice(1);
  const plus = v.indexOf("+");
  if (plus !== -1) v = v.slice(0, plus);
  const dash = v.indexOf("-");
  return { numbers: (dash === -1 ? v : v.slice(0, dash)).split("."), pre: dash === -1 ? [] : v.slice(dash + 1).split(".") };
}

const numeric = (s: string) => [...s].every(isDigit);

export const genericScheme: VersionScheme = {
  name: "dotted numbers",
  problem: (v) => (GENERIC.test(v.trim()) ? null : "not numbers separated by dots"),
  compare(a, b) {
    const x = parse(a);
    const y = parse(b);
    for (let i = 0; i < Math.max(x.numbers.length, y.numbers.length); i++) {
      const d = compareDigits(x.numbers[i] ?? "0", y.numbers[i] ?? "0");
      if (d) return d;
    }
    if (!x.pre.length || !y.pre.length) return x.pre.length === y.pre.length ? 0 : x.pre.length ? -1 : 1;
    for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
      const l = x.pre[i];
      const r = y.pre[i];
      if (l === undefined || r === undefined) return l === undefined ? -1 : 1;
      if (numeric(l) && numeric(r)) {
        const d = compareDigits(l, r);
        if (d) return d;
      } else if (numeric(l) !== numeric(r)) return numeric(l) ? -1 : 1;
      else if (l !== r) return l < r ? -1 : 1;
    }
    return 0;
  },
  prerelease: (v) => parse(v).pre.length > 0,
};
