// RubyGems: Gem::Version. Segments are runs of digits (numbers) or letters (pre-release
// markers); "-" means ".pre."; a version with a letter is a pre-release and sorts below
// its release ("1.0.a" < "1.0.b1" < "1.0"); trailing zeros do not count ("1.0" = "1").
import { type VersionScheme, compareDigits, isDigit, isLetter } from "./scheme.js";

type Segment = string; // digits, or letters

const GEM_VERSION = /^[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

function segments(version: string): Segment[] {
  const text = version.trim().split("-").join(".pre.");
  const out: Segment[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    let j = i + 1;
    if (isDigit(c)) while (isDigit(text[j])) j++;
    else if (isLetter(c)) while (isLetter(text[j])) j++;
    else {
      i = j;
      continue;
    }
    out.push(text.slice(i, j));
    i = j;
  }
  return out;
}

const numeric = (s: Segment) => isDigit(s[0]);
const zero = (s: Segment) => numeric(s) && compareDigits(s, "0") === 0;

/** Trailing zeros dropped from each run of numbers ending at a letter segment and at the end. */
function canonical(version: string): Segment[] {
  const groups: Segment[][] = [[]];
  for (const s of segments(version)) {
    groups.at(-1)!.push(s);
    if (!numeric(s)) groups.push([]);
  }
  const out: Segment[] = [];
  for (const group of groups) {
    let end = group.length;
    while (end > 0 && zero(group[end - 1]!)) end--;
    out.push(...group.slice(0, end));
  }
  return out;
}

export const rubygemsScheme: VersionScheme = {
  name: "RubyGems (Gem::Version)",
  problem: (v) => (GEM_VERSION.test(v.trim()) ? null : "not a RubyGems version (numbers and letters separated by '.')"),
  compare(a, b) {
    const x = canonical(a);
    const y = canonical(b);
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
      const l = x[i] ?? "0";
      const r = y[i] ?? "0";
      if (l === r) continue;
      if (!numeric(l) && numeric(r)) return -1;
      if (numeric(l) && !numeric(r)) return 1;
      const diff = numeric(l) ? compareDigits(l, r) : l < r ? -1 : 1;
      if (diff !== 0) return diff;
    }
    return 0;
  },
  prerelease: (v) => segments(v).some((s) => !numeric(s)),
};
