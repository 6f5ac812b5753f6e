// Advisory identifiers and what scanners write about a package in free text: the one CVE and
// GHSA pattern of the codebase, their canonical spelling and order (CVEs first, the finding's
// identity), and the package named in a SARIF result's message. Pure: no database, no I/O.
import { isSpace, skipSpace, tokenEnd, words } from "../text.js";

/** A CVE identifier anywhere in a text; the one CVE pattern of the codebase. */
const CVE = /CVE-\d{4}-\d{4,}/gi;
/** A GitHub advisory identifier (its alphabet leaves out look-alike characters). */
const GHSA = /GHSA(?:-[23456789cfghjmpqrvwx]{4}){3}/gi;

/** Whether a whole string is a CVE identifier ("cve-2021-44228" too). */
export function isCveId(id: string): boolean {
  const found = id.match(CVE);
  return found?.length === 1 && found[0].length === id.length;
}

/** The CVE identifiers a text names, upper-cased, each once, in order. */
export function cvesIn(text: string): string[] {
  return [...new Set([...text.matchAll(CVE)].map((m) => m[0].toUpperCase()))];
}

/** The first CVE a text names, else its first GHSA (an advisory reference's address). */
export function advisoryIdIn(text: string): string | null {
  return cvesIn(text)[0] ?? [...text.matchAll(GHSA)][0]?.[0] ?? null;
}

/** Identifiers with CVEs first (the finding's identity), then the others, without repeats. */
export function orderIds(ids: (string | null | undefined)[]): string[] {
  const canonical = (id: string) => (isCveId(id) ? id.toUpperCase() : /^GHSA-/i.test(id) ? `GHSA-${id.slice(5).toLowerCase()}` : id);
  const clean = [...new Set(ids.filter((i): i is string => Boolean(i && i.trim())).map((i) => canonical(i.trim())))];
  return [...clean.filter(isCveId), ...clean.filter((i) => !isCveId(i))];
}

/** CVE and GHSA identifiers named in free text (SARIF rule ids, tags, messages), canonical, CVEs first. */
export function advisoryIds(text: string): string[] {
  return orderIds([...cvesIn(text), ...[...text.matchAll(GHSA)].map((m) => m[0])]);
}

/** What SARIF producers put in a result's message: "Package: x\nInstalled Version: y" (Trivy), "npm package: x, version y" (Grype). */
export function packageFromMessage(text: string): { name?: string; version?: string; fixed?: string } {
  const trivyName = /Package:\s*(\S+)/.exec(text)?.[1];
  const trivyVersion = /Installed Version:\s*(\S+)/.exec(text)?.[1] ?? labelledLine(text, "Version:");
  // Trivy writes "Fixed Version:", Grype "Fix Version:".
  const fixed = /Fix(?:ed)? Version:\s*([^\s,]+)/.exec(text)?.[1];
  if (trivyName) return { name: trivyName, version: trivyVersion, fixed };
  return grypePackage(text) ?? grypeReports(text) ?? {};
}

/** The first word after a line's label ("Version: 1.2.3" → "1.2.3"), lines read one by one. */
export function labelledLine(text: string, label: string): string | undefined {
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed.startsWith(label)) return words(trimmed.slice(label.length))[0];
  }
  return undefined;
}

/** Grype's current wording: "The path /app/package-lock.json reports minimist at version 1.2.5 which would…". */
function grypeReports(text: string): { name?: string; version?: string } | undefined {
  for (let at = text.indexOf(" reports "); at >= 0; at = text.indexOf(" reports ", at + 1)) {
    const nameStart = skipSpace(text, at + " reports ".length);
    const nameEnd = tokenEnd(text, nameStart);
    if (!text.startsWith(" at version ", nameEnd)) continue;
    const versionStart = skipSpace(text, nameEnd + " at version ".length);
    const versionEnd = tokenEnd(text, versionStart);
    if (nameEnd > nameStart && versionEnd > versionStart) return { name: text.slice(nameStart, nameEnd), version: text.slice(versionStart, versionEnd) };
  }
  return undefined;
}

/** Grype's "npm package: lodash, version 4.17.20 …", read without backtracking. */
function grypePackage(text: string): { name?: string; version?: string } | undefined {
  const lower = text.toLowerCase();
  for (let at = lower.indexOf("package:"); at >= 0;) {
    const nameStart = skipSpace(text, at + "package:".length);
    const nameEnd = tokenEnd(text, nameStart, ",");
    // A later "package:" inside this name would stop at the same place: go on after it.
    at = lower.indexOf("package:", Math.max(at + 1, nameEnd));
    if (nameEnd === nameStart || text[nameEnd] !== ",") continue;
    const word = skipSpace(text, nameEnd + 1);
    if (lower.slice(word, word + 7) !== "version" || !isSpace(text[word + 7])) continue;
    const versionStart = skipSpace(text, word + 7);
    const versionEnd = tokenEnd(text, versionStart, ",");
    if (versionEnd > versionStart) return { name: text.slice(nameStart, nameEnd), version: text.slice(versionStart, versionEnd) };
  }
  return undefined;
}
