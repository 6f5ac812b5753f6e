// RPM (Red Hat, Rocky, Alma, Amazon, Oracle, SUSE, Fedora, Photon, Azure Linux):
// [epoch:]version[-release], each compared with rpmvercmp: runs of digits (as numbers) and
// of letters, a number above letters, other characters only separate; "~" sorts before
// anything, even the end ("1.0~rc1" < "1.0"), "^" after the end but before anything else.
import { type VersionScheme, compareDigits, isDigit, isLetter, splitEpochRelease } from "./scheme.js";

const alnum = (c: string | undefined) => isDigit(c) || isLetter(c);

export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (i < a.length && !alnum(a[i]) && a[i] !== "~" && a[i] !== "^") i++;
    while (j < b.length && !alnum(b[j]) && b[j] !== "~" && b[j] !== "^") j++;
    if (a[i] === "~" || b[j] === "~") {
      if (a[i] !== "~") return 1;
      if (b[j] !== "~") return -1;
      i++;
      j++;
      continue;
    }
    if (a[i] === "^" || b[j] === "^") {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== "^") return 1;
      if (b[j] !== "^") return -1;
      i++;
      j++;
      continue;
    }
    if (i >= a.length || j >= b.length) break;
    const si = i;
    const sj = j;
    const numeric = isDigit(a[i]);
    const run = numeric ? isDigit : isLetter;
    while (run(a[i])) i++;
    while (run(b[j])) j++;
    if (j === sj) return numeric ? 1 : -1; // a number is newer than letters
    const x = a.slice(si, i);
    const y = b.slice(sj, j);
    const d = numeric ? compareDigits(x, y) : x < y ? -1 : x > y ? 1 : 0;
    if (d) return d;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i < a.length ? 1 : -1;
}

interface Evr {
  epoch: string;
  version: string;
  release: string | null;
}

const PART = /^[A-Za-z0-9._+~^]+$/;

function parse(text: string): Evr | null {
  const parts = splitEpochRelease(text);
  if (!parts || !PART.test(parts.main) || !alnum(parts.main[0]) || (parts.release !== null && !PART.test(parts.release))) return null;
  return { epoch: parts.epoch, version: parts.main, release: parts.release };
}

export const rpmScheme: VersionScheme = {
  name: "RPM (rpmvercmp)",
  problem: (v) => (parse(v) ? null : "not an RPM version ([epoch:]version[-release])"),
  compare(a, b) {
    const x = parse(a)!;
    const y = parse(b)!;
    const d = compareDigits(x.epoch, y.epoch) || rpmvercmp(x.version, y.version);
    // A version without a release matches every release of it, as rpm does.
    if (d || x.release === null || y.release === null) return d;
    return rpmvercmp(x.release, y.release);
  },
  prerelease: (v) => v.includes("~"),
};
