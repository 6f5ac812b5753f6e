// Packagist (Composer): up to four numbers ("v" allowed), then an optional stability with a
// number: dev < alpha (a) < beta (b) < RC < stable < patch (pl, p); "1.0.0-beta2" < "1.0.0".
// Branch names ("dev-main") are not versions.
import { type VersionScheme, compareDigits, compareNumberLists, isDigit, isLetter, readNumbers } from "./scheme.js";

const STABILITY: Record<string, number> = { dev: 0, alpha: 1, a: 1, beta: 2, b: 2, rc: 3, "": 4, stable: 4, patch: 5, pl: 5, p: 5 };

interface ComposerVersion {
  numbers: string[];
  stability: number;
  number: string;
}

function parse(version: string): ComposerVersion | null {
  let v = version.trim().toLowerCase();
  if (v.startsWith("v")) v = v.slice(1);
  const read = readNumbers(v, 0, 4);
  if (!read) return null;
  const { numbers } = read;
  let i = read.end;
  if (i === v.length) return { numbers, stability: STABILITY[""]!, number: "0" };
  if (v[i] === "-" || v[i] === "." || v[i] === "_") i++;
  const s = i;
  while (isLetter(v[i])) i++;
  const stability = STABILITY[v.slice(s, i)];
  if (stability === undefined) return null;
  if (v[i] === "." || v[i] === "-") i++;
  const n = i;
  while (isDigit(v[i])) i++;
  return i === v.length ? { numbers, stability, number: v.slice(n, i) || "0" } : null;
}

export const composerScheme: VersionScheme = {
  name: "Composer",
  problem: (v) => (parse(v) ? null : "not a Composer version (N.N.N with an optional -dev, -alpha, -beta, -RC or -patch)"),
  compare(a, b) {
    const x = parse(a)!;
    const y = parse(b)!;
    return compareNumberLists(x.numbers, y.numbers) || x.stability - y.stability || compareDigits(x.number, y.number);
  },
  prerelease: (v) => (parse(v)?.stability ?? STABILITY[""]!) < STABILITY[""]!,
};
