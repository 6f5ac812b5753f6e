// Alpine (and Wolfi, Chainguard): apk-tools' ordering of
//   number(.number)*[letter](_suffix[number])*[~hash][-rN]
// Suffixes _alpha < _beta < _pre < _rc sort below the plain version, _cvs < _svn < _git < _hg
// < _p above it; a later number part sorts above none ("1.2.1" > "1.2"); -rN is the package
// revision.
import { type VersionScheme, compareDigits, isDigit, isLetter, readNumbers } from "./scheme.js";

const SUFFIXES = ["alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p"];
const NONE = SUFFIXES.indexOf("");

interface ApkVersion {
  numbers: string[];
  letter: string;
  suffixes: { rank: number; number: string }[];
  hash: string;
  revision: string;
}

function parse(version: string): ApkVersion | null {
  const v = version.trim();
  const read = readNumbers(v, 0);
  if (!read) return null;
  const { numbers } = read;
  let i = read.end;
  let letter = "";
  if (v[i] !== undefined && v[i]! >= "a" && v[i]! <= "z") letter = v[i++]!;
  const suffixes: ApkVersion["suffixes"] = [];
  while (v[i] === "_") {
    const s = ++i;
    while (isLetter(v[i])) i++;
    const rank = SUFFIXES.indexOf(v.slice(s, i));
    if (rank === -1 || rank === NONE) return null;
    const n = i;
    while (isDigit(v[i])) i++;
    suffixes.push({ rank, number: v.slice(n, i) || "0" });
  }
  let hash = "";
  if (v[i] === "~") {
    const s = ++i;
    while (isDigit(v[i]) || (v[i]! >= "a" && v[i]! <= "f")) i++;
    hash = v.slice(s, i);
  }
  let revision = "0";
  if (v.startsWith("-r", i)) {
    const s = (i += 2);
    while (isDigit(v[i])) i++;
    if (i === s) return null;
    revision = v.slice(s, i);
  }
  return i === v.length ? { numbers, letter, suffixes, hash, revision } : null;
}

function compareNumbers(a: string[], b: string[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
    // After the first part, a part with a leading zero is compared as a fraction (as text).
    const d = i > 0 && (x[0] === "0" || y[0] === "0") ? (x < y ? -1 : x > y ? 1 : 0) : compareDigits(x, y);
    if (d) return d;
  }
  return 0;
}

export const apkScheme: VersionScheme = {
  name: "Alpine (apk)",
  problem: (v) => (parse(v) ? null : "not an apk version (N.N…[letter][_suffixN][-rN])"),
  compare(a, b) {
    const x = parse(a)!;
    const y = parse(b)!;
    const numbers = compareNumbers(x.numbers, y.numbers);
    if (numbers) return numbers;
    if (x.letter !== y.letter) return x.letter < y.letter ? -1 : 1;
    for (let i = 0; i < Math.max(x.suffixes.length, y.suffixes.length); i++) {
      const l = x.suffixes[i] ?? { rank: NONE, number: "0" };
      const r = y.suffixes[i] ?? { rank: NONE, number: "0" };
      if (l.rank !== r.rank) return l.rank < r.rank ? -1 : 1;
      const d = compareDigits(l.number, r.number);
      if (d) return d;
    }
    if (x.hash !== y.hash) return x.hash < y.hash ? -1 : 1;
    return compareDigits(x.revision, y.revision);
  },
  prerelease: (v) => parse(v)?.suffixes.some((s) => s.rank < NONE) ?? false,
};
