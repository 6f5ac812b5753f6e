// Small text helpers that run in linear time on any input. A regular expression that a
// search can start at every position (`/\/+$/` on "////…x") is quadratic; these loops are not.

/** The text without any of the given characters at its end (trimEnd("a/;/", "/;") → "a"). */
export function trimEnd(text: string, chars: string): string {
  let end = text.length;
  while (end > 0 && chars.includes(text[end - 1]!)) end--;
  return text.slice(0, end);
}

/** The text without any of the given characters at its start (trimStart("//a", "/") → "a"). */
export function trimStart(text: string, chars: string): string {
  let start = 0;
  while (start < text.length && chars.includes(text[start]!)) start++;
  return text.slice(start);
}

/** A base URL or path without trailing slashes. */
export function withoutTrailingSlash(text: string): string {
  return trimEnd(text, "/");
}

export function isSpace(ch: string | undefined): boolean {
  return ch === " " || ch === "\t" || ch === "\n" || ch === "\r" || ch === "\f" || ch === "\v";
}

/** The index of the first character at or after `from` that is not white space. */
export function skipSpace(text: string, from: number): number {
  let i = from;
  while (i < text.length && isSpace(text[i])) i++;
  return i;
}

/** The index where a run of characters that are neither white space nor in `stops` ends. */
export function tokenEnd(text: string, from: number, stops = ""): number {
  let i = from;
  while (i < text.length && !isSpace(text[i]) && !stops.includes(text[i]!)) i++;
  return i;
}

/** Splits on runs of white space, dropping empty pieces ("a  b\tc" → ["a", "b", "c"]). */
export function words(text: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    const blank = i === text.length || isSpace(text[i]!);
    if (blank && start >= 0) {
      out.push(text.slice(start, i));
      start = -1;
    } else if (!blank && start < 0) start = i;
  }
  return out;
}

/** "local@domain.tld": one "@", no white space or commas, a dot in the domain (not at its ends). */
export function isEmailAddress(text: string): boolean {
  const at = text.indexOf("@");
  if (at <= 0 || at !== text.lastIndexOf("@")) return false;
  for (const ch of text) if (isSpace(ch) || ch === ",") return false;
  const domain = text.slice(at + 1);
  const dot = domain.lastIndexOf(".");
  return dot > 0 && dot < domain.length - 1;
}

/**
 * Whether JSON text nests arrays and objects deeper than `max` (strings skipped, escapes
 * honoured): one pass, no parsing, so a hostile body is refused before anything recurses on it.
 */
export function jsonNestingExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92)
        i++; // backslash: the next character is escaped
      else if (ch === 34) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 91 || ch === 123) {
      if (++depth > max) return true;
    } else if (ch === 93 || ch === 125) depth--;
  }
  return false;
}

/**
 * The text without control characters (NUL, escape sequences, DEL and the like): they carry no
 * meaning in a version or a name, and break pages and terminals. Line breaks and tabs stay
 * where `keepLines` (a description).
 */
export function withoutControlCharacters(text: string, keepLines = false): string {
  let out = "";
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const control = c < 0x20 || (c >= 0x7f && c <= 0x9f);
    if (control && !(keepLines && (c === 0x0a || c === 0x09 || c === 0x0d))) {
      out += text.slice(start, i);
      start = i + 1;
    }
  }
  return start === 0 ? text : out + text.slice(start);
}

/** A database URL with its password hidden, for messages and the printed configuration. */
export function redactDatabaseUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "(not a URL)";
  }
}
