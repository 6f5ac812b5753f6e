// CODEOWNERS: where the file lives on each source control, how its lines read, and which
// owners a path has. GitHub's and Bitbucket's rule is "the last matching pattern wins";
// GitLab adds sections ("[Backend] @team"), each contributing its own last match, so a
// path may have owners from several sections. Patterns follow gitignore: a leading "/"
// (or a slash inside) anchors at the root, "*" stays within a directory, "**" crosses
// them, a trailing "/" means everything beneath, and a bare name matches at any depth.

export interface CodeownersRule {
  pattern: string;
  owners: string[];
  /** GitLab section name; "" outside any section. */
  section: string;
  line: number;
}

export interface Codeowners {
  path: string;
  sha: string | null;
  rules: CodeownersRule[];
  /** Lines that could not be read, for the repository's ownership page. */
  problems: string[];
}

/** Where each provider looks, in its own order of precedence. */
export const CODEOWNERS_PATHS: Record<string, string[]> = {
  github: [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"],
  gitlab: ["CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS"],
  bitbucket: [".bitbucket/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"],
};

const OWNER = /^(@[\w.-]+(\/[\w./-]+)?|[^\s@]+@[^\s@]+\.[^\s@]+)$/;
const MAX_RULES = 2_000;

export function parseCodeowners(text: string, path: string, sha: string | null): Codeowners {
  const rules: CodeownersRule[] = [];
  const problems: string[] = [];
  let section = "";
  let sectionOwners: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length && rules.length < MAX_RULES; i++) {
    const line = stripComment(lines[i]!).trim();
    if (!line) continue;
    // GitLab section headers: [Name], ^[Optional], [Name][2] @default-owners
    const header = /^\^?\[([^\]]+)\](?:\[\d+\])?\s*(.*)$/.exec(line);
    if (header) {
      section = header[1]!.trim();
      sectionOwners = header[2]!.split(/\s+/).filter((o) => OWNER.test(o));
      continue;
    }
    const tokens = splitPattern(line);
    const pattern = tokens[0]!;
    const owners = tokens.slice(1);
    const bad = owners.filter((o) => !OWNER.test(o));
    if (bad.length) problems.push(`Line ${i + 1}: ${bad.map((b) => `"${b}"`).join(", ")} is not a user, team or e-mail address.`);
    const good = owners.filter((o) => OWNER.test(o));
    rules.push({ pattern, owners: good.length || owners.length ? good : sectionOwners, section, line: i + 1 });
  }
  return { path, sha, rules, problems };
}

function stripComment(line: string): string {
  // "#" starts a comment unless escaped ("\#file").
  for (let i = 0; i < line.length; i++) {
    if (line[i] === "\\") i++;
    else if (line[i] === "#") return line.slice(0, i);
  }
  return line;
}

function splitPattern(line: string): string[] {
  // A pattern may contain escaped spaces ("My\ Docs/").
  const out: string[] = [];
  let current = "";
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === "\\" && i + 1 < line.length) {
      current += line[++i];
    } else if (/\s/.test(ch)) {
      if (current) out.push(current);
      current = "";
    } else current += ch;
  }
  if (current) out.push(current);
  return out;
}

const compiled = new Map<string, RegExp>();

export function patternMatches(pattern: string, path: string): boolean {
  let re = compiled.get(pattern);
  if (!re) {
    re = toRegExp(pattern);
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(pattern, re);
  }
  return re.test(path.replace(/^\/+/, ""));
}

function toRegExp(pattern: string): RegExp {
  let p = pattern;
  const directory = p.endsWith("/");
  if (directory) p = p.replace(/\/+$/, "");
  const anchored = p.startsWith("/") || p.replace(/^\/+/, "").includes("/");
  p = p.replace(/^\/+/, "");
  let body = "";
  for (let i = 0; i < p.length; i++) {
    const ch = p[i]!;
    if (ch === "*" && p[i + 1] === "*") {
      // "**/" any leading directories, "/**" everything beneath, "**" alone anything.
      if (p[i + 2] === "/") {
        body += "(?:.*/)?";
        i += 2;
      } else {
        body += ".*";
        i += 1;
      }
    } else if (ch === "*") body += "[^/]*";
    else if (ch === "?") body += "[^/]";
    else body += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  if (body === "" || body === ".*") return /^/;
  const prefix = anchored ? "^" : "^(?:.*/)?";
  // A pattern naming a directory owns everything beneath it; a file pattern also matches a
  // directory of that name (gitignore), so "docs" owns "docs/a.md". "dir/" matches only below;
  // "docs/*" only the files directly in docs/ (GitHub's documented exception).
  const end = directory ? "/" : p.endsWith("/*") ? "$" : "(?:$|/)";
  return new RegExp(`${prefix}${body}${end}`);
}

/**
 * The owners of a path: the last matching rule (per GitLab section), in the file's order.
 * With no path (a finding that names no file), the owners of the repository root's files.
 */
export function ownersOf(codeowners: Pick<Codeowners, "rules">, path: string | null): string[] {
  const target = path ?? "__patchbay_root_file__";
  const bySection = new Map<string, string[]>();
  for (const rule of codeowners.rules) {
    if (patternMatches(rule.pattern, target)) bySection.set(rule.section, rule.owners);
  }
  return [...new Set([...bySection.values()].flat())];
}
