// requirements*.txt: a package pinned with == raised to the fixed version, its --hash options
// (where the file has them) replaced by the new version's digests from the index, one option per
// line as the file wrote them. Everything else — comments, markers, extras, "# via" lines, other
// requirements — stays as it was. Only exact pins are changed: a range, a URL or an editable
// install is left to people, with the reason. The file is untrusted: read line by line, in
// linear time.
import { pypiName } from "../../vuln/manifests.js";
import { type FixOutcome, cannot } from "./types.js";

/** A PEP 440 version as a requirements file may pin it (public, with optional local part). */
const PLAIN_VERSION = /^[0-9][0-9A-Za-z.!+_-]{0,127}$/;
/** name, [extras], the specifier, the version. */
const REQUIREMENT = /^([A-Za-z0-9][A-Za-z0-9._-]*)[ \t]*(\[[^\]\n]*\])?[ \t]*(===|==|~=|!=|>=|<=|>|<)?[ \t]*([^\s;,\\#]*)/;

const isBlank = (ch: string | undefined) => ch === " " || ch === "\t";

/** The --hash options of a requirement ("--hash=sha256:…", "--hash sha256:…"): where each starts and ends, scanned in linear time. */
function hashOptions(text: string): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (let at = text.indexOf("--hash"); at >= 0; at = text.indexOf("--hash", at + 1)) {
    let i = at + "--hash".length;
    while (isBlank(text[i])) i++;
    if (text[i] === "=") i++;
    else if (i === at + "--hash".length) continue;
    while (isBlank(text[i])) i++;
    const algorithm = i;
    while (i < text.length && /[A-Za-z0-9]/.test(text[i]!)) i++;
    if (i === algorithm || text[i] !== ":") continue;
    const digest = ++i;
    while (i < text.length && /[0-9a-fA-F]/.test(text[i]!)) i++;
    if (i > digest) out.push({ start: at, end: i });
  }
  return out;
}

/** The spacing before an option: blanks, or a backslash continuation and the next line's indentation (scanned back from `at`). */
function separatorBefore(text: string, at: number): string {
  let i = at;
  while (i > 0 && isBlank(text[i - 1])) i--;
  if (text[i - 1] === "\n") {
    let j = i - 1;
    if (text[j - 1] === "\r") j--;
    if (text[j - 1] === "\\") {
      j--;
      while (j > 0 && isBlank(text[j - 1])) j--;
      return text.slice(j, at);
    }
  }
  return i < at ? text.slice(i, at) : " ";
}

interface LogicalLine {
  /** Offsets of the whole requirement, continuations included (without its final newline). */
  start: number;
  end: number;
  text: string;
}

/** The file's logical lines: physical lines joined where one ends with a backslash. */
function logicalLines(text: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  let start = 0;
  let at = 0;
  while (at <= text.length) {
    const nl = text.indexOf("\n", at);
    const end = nl < 0 ? text.length : nl;
    const line = text.slice(at, end).replace(/\r$/, "");
    if (line.endsWith("\\") && nl >= 0) {
      at = nl + 1;
      continue;
    }
    out.push({ start, end, text: text.slice(start, end) });
    if (nl < 0) break;
    start = at = nl + 1;
  }
  return out;
}

export async function raiseRequirement(
  path: string,
  text: string,
  name: string,
  to: string,
  hashesOf: (name: string, version: string) => Promise<string[]>,
): Promise<FixOutcome> {
  if (!PLAIN_VERSION.test(to)) return cannot(`the fixed version "${to.slice(0, 40)}" is not a plain Python version`);
  const wanted = pypiName(name);
  const edits: { at: number; end: number; text: string }[] = [];
  let pins = 0;
  for (const line of logicalLines(text)) {
    const body = line.text.replace(/^[ \t]+/, "");
    if (!body || body.startsWith("#") || body.startsWith("-")) {
      // An editable or URL install of the package is not a pin Patchbay can raise.
      const egg = /^(?:-e|--editable)\b.*#egg=([A-Za-z0-9._-]+)/.exec(body);
      if (egg && pypiName(egg[1]!) === wanted) return cannot(`${path} installs ${name} in editable mode, not from the index`);
      continue;
    }
    const match = REQUIREMENT.exec(body);
    if (!match || pypiName(match[1]!) !== wanted) continue;
    const [, , , op, version] = match;
    // PEP 508's "name @ url": no specifier, the URL where the version would be.
    if (!op && version?.startsWith("@")) return cannot(`${path} installs ${name} from a URL, not a version on the index`);
    if (op !== "==" && op !== "===")
      return cannot(`${path} does not pin ${name} with == (${op ? `${op}${version}` : "no version"}): ranges are left to people`);
    if (!version || version.includes("*")) return cannot(`${path} pins ${name} to "${version ?? ""}", not one version`);
    const versionAt = line.start + (line.text.length - body.length) + match[0].length - version.length;
    edits.push({ at: versionAt, end: versionAt + version.length, text: to });
    pins++;
    const hashes = hashOptions(line.text);
    if (hashes.length) {
      const digests = await hashesOf(name, to);
      const first = hashes[0]!;
      const last = hashes.at(-1)!;
      // One option per line (or per space) as the file writes them, from the first to the last.
      const sep = separatorBefore(line.text, first.start);
      const written = digests.map((d, i) => `${i === 0 ? "" : sep}--hash=sha256:${d}`).join("");
      edits.push({ at: line.start + first.start, end: line.start + last.end, text: written });
    }
  }
  if (pins === 0) return cannot(`${name} is not pinned in ${path}`);
  let after = text;
  for (const e of edits.sort((a, b) => b.at - a.at)) after = after.slice(0, e.at) + e.text + after.slice(e.end);
  if (after === text) return cannot(`${name} is already at ${to} in ${path}`);
  const hashed = edits.length > pins;
  return {
    ok: true,
    changes: [{ path, before: text, after }],
    how: `${name}==${to} in ${path}${hashed ? ", its --hash lines the index's digests of that version" : ""}`,
  };
}
