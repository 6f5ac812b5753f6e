// The contract every ecosystem's version scheme keeps.

export interface VersionScheme {
  /** The ordering's name, as the finding says it: "SemVer (npm)", "PEP 440", "Debian"… */
  readonly name: string;
  /** Null when the version follows the scheme; else why it does not, in a few words. */
  problem(version: string): string | null;
  /** Orders two versions that both follow the scheme: negative, zero or positive. */
  compare(a: string, b: string): number;
  /** A pre-release or development build (never offered as "the latest"). */
  prerelease(version: string): boolean;
}

/** Orders two runs of ASCII digits as numbers, however long (leading zeros ignored). */
export function compareDigits(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length - 1 && a[i] === "0") i++;
  while (j < b.length - 1 && b[j] === "0") j++;
  const x = a.slice(i);
  const y = b.slice(j);
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

export const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9";
export const isLetter = (c: string | undefined): boolean => c !== undefined && ((c >= "a" && c <= "z") || (c >= "A" && c <= "Z"));

/** Numbers separated by dots from `start` ("1.2.3" → ["1", "2", "3"]), at most `max`; null when none starts there. */
export function readNumbers(text: string, start: number, max = Infinity): { numbers: string[]; end: number } | null {
  const numbers: string[] = [];
  let i = start;
  for (;;) {
    const s = i;
    while (isDigit(text[i])) i++;
    if (i === s) return null;
    numbers.push(text.slice(s, i));
    if (text[i] === "." && isDigit(text[i + 1]) && numbers.length < max) i++;
    else return { numbers, end: i };
  }
}

/** Two lists of digit runs compared place by place, a missing place counting as 0. */
export function compareNumberLists(a: string[], b: string[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = compareDigits(a[i] ?? "0", b[i] ?? "0");
    if (d) return d;
  }
  return 0;
}

/** "[epoch:]rest" with a numeric epoch (0 when absent), and rest split at its last "-" (Debian, RPM). */
export function splitEpochRelease(version: string): { epoch: string; main: string; release: string | null } | null {
  const text = version.trim();
  const colon = text.indexOf(":");
  const epoch = colon === -1 ? "0" : text.slice(0, colon);
  if (!epoch || ![...epoch].every(isDigit)) return null;
  const rest = text.slice(colon + 1);
  const dash = rest.lastIndexOf("-");
  return { epoch, main: dash === -1 ? rest : rest.slice(0, dash), release: dash === -1 ? null : rest.slice(dash + 1) };
}
