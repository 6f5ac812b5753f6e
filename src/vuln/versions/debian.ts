// Debian (and Ubuntu): dpkg's ordering of [epoch:]upstream[-revision]. Letters sort before
// every other character, "~" before anything, even the end ("1.0~rc1" < "1.0"); digit runs
// compare as numbers.
import { type VersionScheme, compareDigits, isDigit, isLetter, splitEpochRelease } from "./scheme.js";

interface DebianVersion {
  epoch: string;
  upstream: string;
  revision: string;
}

const UPSTREAM = /^[0-9][A-Za-z0-9.+~:-]*$/;
const REVISION = /^[A-Za-z0-9.+~]+$/;

function parse(version: string): DebianVersion | null {
  const parts = splitEpochRelease(version);
  if (!parts || !UPSTREAM.test(parts.main) || (parts.release !== null && !REVISION.test(parts.release))) return null;
  return { epoch: parts.epoch, upstream: parts.main, revision: parts.release ?? "" };
}

/** dpkg's character weight: "~" lowest, then the end, then letters, then everything else. */
function weight(c: string | undefined): number {
  if (c === undefined || isDigit(c)) return 0;
  if (isLetter(c)) return c.charCodeAt(0);
  if (c === "~") return -1;
  return c.charCodeAt(0) + 256;
}

/** dpkg's verrevcmp: alternating non-digit and digit runs. */
export function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const d = weight(a[i]) - weight(b[j]);
      if (d) return d < 0 ? -1 : 1;
      i++;
      j++;
    }
    const si = i;
    const sj = j;
    while (isDigit(a[i])) i++;
    while (isDigit(b[j])) j++;
    const d = compareDigits(a.slice(si, i) || "0", b.slice(sj, j) || "0");
    if (d) return d;
  }
  return 0;
}

export const debianScheme: VersionScheme = {
  name: "Debian (dpkg)",
  problem: (v) => (parse(v) ? null : "not a Debian version ([epoch:]upstream[-revision], upstream starting with a digit)"),
  compare(a, b) {
    const x = parse(a)!;
    const y = parse(b)!;
    return compareDigits(x.epoch, y.epoch) || verrevcmp(x.upstream, y.upstream) || verrevcmp(x.revision, y.revision);
  },
  prerelease: (v) => v.includes("~"),
};
