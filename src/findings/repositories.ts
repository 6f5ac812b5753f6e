// Repositories known through source control, and matching a scanner's repository to one of
// them (SCA findings are imported only for repositories an SCM integration can reach).
//
// Matching uses the repository URL in any of its forms, reduced to a key
// "host/owner/name" in lower case:
//   https://github.com/Acme/API.git, http://github.com/acme/api, git@github.com:acme/api.git,
//   ssh://git@github.com:22/acme/api, github.com/acme/api, https://github.com/acme/api/tree/main
// all give "github.com/acme/api". A scanner URL matches a repository by that key (or by full
// name one recorded without a URL). Without a URL, the full name ("acme/api") is matched, and
// a bare name ("api"), only when exactly one accessible repository carries it.
import type { Db, Repository } from "../db/schema.js";
import { trimEnd, trimStart } from "../text.js";

export interface RepositoryIndex {
  match(ref: { name: string; url?: string | null }): Repository | undefined;
}

/** Path segments that start a web URL's suffix after owner/name (GitHub tree/blob, GitLab "/-/…", Bitbucket src). */
const WEB_SUFFIX_SEGMENTS = new Set(["-", "tree", "blob", "src", "browse", "pull", "pulls", "merge_requests"]);

/** The repository part of a URL path: "/acme/api/tree/main/x" → "acme/api", "/g/p.git/" → "g/p". */
function repositoryPath(pathname: string): string {
  const segments = pathname.split("/");
  // A suffix segment counts only when something (even "") follows it, and never first.
  const cut = segments.findIndex((s, i) => i > 0 && i < segments.length - 1 && WEB_SUFFIX_SEGMENTS.has(s.toLowerCase()));
  let path = (cut < 0 ? segments : segments.slice(0, cut)).join("/");
  if (path.toLowerCase().endsWith(".git/")) path = path.slice(0, -5);
  else if (path.toLowerCase().endsWith(".git")) path = path.slice(0, -4);
  return trimEnd(trimStart(path, "/"), "/");
}

export function repositoryUrlKey(url: string): string | undefined {
  let text = url.trim();
  if (!text) return undefined;
  // scp-like ssh: git@host:owner/name.git
  const scp = /^[\w.-]+@([^:/]+):(?!\d+\/)(.+)$/.exec(text);
  if (scp) text = `ssh://${scp[1]}/${scp[2]}`;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = `https://${text}`;
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return undefined;
  }
  let pathname: string;
  try {
    pathname = decodeURIComponent(parsed.pathname);
  } catch {
    return undefined;
  }
  const path = repositoryPath(pathname);
  if (!parsed.hostname || !path.includes("/")) return undefined;
  return `${parsed.hostname.toLowerCase()}/${path.toLowerCase()}`;
}

export async function loadRepositoryIndex(db: Db): Promise<RepositoryIndex> {
  const rows = await db.selectFrom("repositories").selectAll().where("accessible", "=", 1).execute();
  const byUrlKey = new Map<string, Repository>();
  const byFullName = new Map<string, Repository[]>();
  const withoutUrl = new Map<string, Repository[]>();
  const byName = new Map<string, Repository[]>();
  const add = (map: Map<string, Repository[]>, key: string, repo: Repository) => map.set(key, [...(map.get(key) ?? []), repo]);
  for (const repo of rows) {
    const key = repo.url_key ?? (repo.url ? repositoryUrlKey(repo.url) : undefined);
    const full = repo.full_name.toLowerCase();
    if (key) byUrlKey.set(key, repo);
    else add(withoutUrl, full, repo);
    add(byFullName, full, repo);
    add(byName, full.slice(full.lastIndexOf("/") + 1), repo);
  }
  const unique = (list: Repository[] | undefined) => (list?.length === 1 ? list[0] : undefined);
  // A scan names the same few repositories on every record: each (name, URL) is parsed once.
  const matched = new Map<string, Repository | undefined>();
  const match = ({ name, url }: { name: string; url?: string | null }): Repository | undefined => {
    // As JSON: a scanner's name or URL holding any character cannot make two pairs one key.
    const seen = JSON.stringify([name, url ?? null]);
    if (matched.has(seen)) return matched.get(seen);
    const repo = matchOnce(name, url);
    if (matched.size >= MATCHES_KEPT) matched.clear();
    matched.set(seen, repo);
    return repo;
  };
  const matchOnce = (name: string, url: string | null | undefined): Repository | undefined => {
    const fromUrl = url ? repositoryUrlKey(url) : undefined;
    // A URL decides, except for repositories recorded without one, matched by full name.
    if (fromUrl) return byUrlKey.get(fromUrl) ?? unique(withoutUrl.get(fromUrl.slice(fromUrl.indexOf("/") + 1)));
    const key = name
      .trim()
      .toLowerCase()
      .replace(/\.git$/, "");
    const asUrl = key.includes(".") && key.split("/").length >= 3 ? repositoryUrlKey(key) : undefined;
    if (asUrl) return byUrlKey.get(asUrl);
    // Two servers may both hold "acme/api": a full name must name exactly one repository.
    return key.includes("/") ? unique(byFullName.get(key)) : unique(byName.get(key));
  };
  return { match };
}

/** (name, URL) pairs a repository index remembers its answer for. */
const MATCHES_KEPT = 10_000;
