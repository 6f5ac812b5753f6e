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

/** -1, 0 or 1. */
export const sign = (n: number | bigint): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

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
