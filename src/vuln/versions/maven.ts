// Maven: ComparableVersion, the ordering Maven itself applies (maven-artifact 3.x).
// A version is a list of items split at "." and "-" and at every switch between digits and
// letters; "-" and a switch open a sub-list. Qualifiers order
//   alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp,
// any other qualifier after those (alphabetically), and a number above any qualifier.
import { type VersionScheme, compareDigits, isDigit } from "./scheme.js";

type Item = { kind: "int"; digits: string } | { kind: "string"; value: string } | { kind: "list"; items: Item[] };

const QUALIFIERS = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const ALIASES: Record<string, string> = { ga: "", final: "", release: "", cr: "rc" };
const RELEASE = String(QUALIFIERS.indexOf(""));

function comparable(qualifier: string): string {
  const index = QUALIFIERS.indexOf(qualifier);
  return index === -1 ? `${QUALIFIERS.length}-${qualifier}` : String(index);
}

function stringItem(value: string, followedByDigit: boolean): Item {
  let v = value;
  if (followedByDigit && v.length === 1) v = v === "a" ? "alpha" : v === "b" ? "beta" : v === "m" ? "milestone" : v;
  return { kind: "string", value: ALIASES[v] ?? v };
}

function parseItem(digit: boolean, text: string): Item {
  return digit ? { kind: "int", digits: text } : stringItem(text, false);
}

function isNull(item: Item): boolean {
  if (item.kind === "int") return compareDigits(item.digits, "0") === 0;
  if (item.kind === "string") return comparable(item.value) === RELEASE;
  return item.items.length === 0;
}

/** Drops trailing null items ("1.0.0" = "1", "1-ga" = "1"), stopping at the first that is not a list. */
function normalize(list: Item[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const last = list[i]!;
    if (isNull(last)) list.splice(i, 1);
    else if (last.kind !== "list") break;
  }
}

export function parseMaven(version: string): Item {
  const text = version.toLowerCase();
  const root: Item[] = [];
  let list = root;
  const stack: Item[][] = [root];
  const sublist = () => {
    const next: Item[] = [];
    list.push({ kind: "list", items: next });
    list = next;
    stack.push(next);
  };
  let digit = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "." || c === "-") {
      list.push(i === start ? { kind: "int", digits: "0" } : parseItem(digit, text.slice(start, i)));
      start = i + 1;
      if (c === "-") sublist();
    } else if (isDigit(c)) {
      if (!digit && i > start) {
        list.push(stringItem(text.slice(start, i), true));
        start = i;
        sublist();
      }
      digit = true;
    } else {
      if (digit && i > start) {
        list.push(parseItem(true, text.slice(start, i)));
        start = i;
        sublist();
      }
      digit = false;
    }
  }
  if (text.length > start) list.push(parseItem(digit, text.slice(start)));
  while (stack.length) normalize(stack.pop()!);
  return { kind: "list", items: root };
}

function compareItem(a: Item, b: Item | null): number {
  if (a.kind === "int") {
    if (b === null) return isNull(a) ? 0 : 1; // 1.0 = 1, 1.1 > 1
    return b.kind === "int" ? compareDigits(a.digits, b.digits) : 1; // 1.1 > 1-sp, 1.1 > 1-1
  }
  if (a.kind === "string") {
    if (b === null) return order(comparable(a.value), RELEASE); // 1-rc < 1, 1-sp > 1
    return b.kind === "string" ? order(comparable(a.value), comparable(b.value)) : -1; // 1.any < 1.1, 1.any < 1-1
  }
  if (b === null) return a.items.length === 0 ? 0 : compareItem(a.items[0]!, null);
  if (b.kind === "int") return -1; // 1-1 < 1.0.x
  if (b.kind === "string") return 1; // 1-1 > 1-sp
  const n = Math.max(a.items.length, b.items.length);
  for (let i = 0; i < n; i++) {
    const l = a.items[i] ?? null;
    const r = b.items[i] ?? null;
    const result = l === null ? (r === null ? 0 : -compareItem(r, l)) : compareItem(l, r);
    if (result !== 0) return result;
  }
  return 0;
}

const order = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);

/** Qualifiers Maven orders after releases, but that name early builds all the same. */
const PRERELEASE = new Set(["preview", "ea", "dev", "pre", "incubating", "nightly"]);

function hasQualifier(item: Item, test: (qualifier: string) => boolean): boolean {
  if (item.kind === "string") return test(item.value);
  return item.kind === "list" && item.items.some((i) => hasQualifier(i, test));
}

const MAVEN_CHARS = /^[0-9A-Za-z._+-]+$/;

export const mavenScheme: VersionScheme = {
  name: "Maven (ComparableVersion)",
  problem: (v) =>
    MAVEN_CHARS.test(v) && isDigit(v[0]) ? null : "not a Maven version (it starts with a digit and holds letters, digits, '.', '-', '_' or '+')",
  compare: (a, b) => compareItem(parseMaven(a), parseMaven(b)),
  prerelease: (v) => hasQualifier(parseMaven(v), (q) => PRERELEASE.has(q) || (comparable(q) < RELEASE && q !== "")),
};
