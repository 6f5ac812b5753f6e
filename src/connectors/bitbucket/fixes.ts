// Fix pull requests on Bitbucket Cloud. A commit is made with the src endpoint (a form post of
// the files, the message, the branch and its parent); Bitbucket creates a new branch on the
// parent given, and on an existing branch only when the parent given is that branch's head
// (409 otherwise) — it cannot reset a branch. So:
//   no branch yet                      → committed on the default branch's head (the branch made);
//   the branch has an open pull request → committed on the branch's head, with the files as
//                                         regenerated from the default branch (the pull request
//                                         stays; the same change on both sides merges cleanly);
//   the branch without a pull request  → deleted (nothing refers to it), then made again from
//                                         the default branch.
// The pull request is found by its source branch before one is opened; reviewers are the
// CODEOWNERS owners the workspace knows as members (by nickname).
import { ExternalError } from "../../http.js";
import type { ConnectionSettings, ConnectorContext, FixPullRequest, FixPullRequests, FixToOpen } from "../types.js";
import type { BitbucketClient, Paged } from "./client.js";

interface Branch {
  name: string;
  target: { hash: string };
}

interface PullRequest {
  id: number;
  links?: { html?: { href?: string } };
  author?: { uuid?: string; nickname?: string };
  reviewers?: { uuid: string }[];
}

/** A BBQL string literal (the query language's double-quoted strings, backslash escapes). */
function bbqlString(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function bitbucketFixes(client: (connection: ConnectionSettings, ctx: ConnectorContext) => BitbucketClient): FixPullRequests {
  return {
    permissions:
      "An access token (or API token) with the repository:write and pullrequest:write scopes, of an account that may push to the repository; branch restrictions on the default branch are never in the way, it is never written.",
    async open(connection, ctx, repository, fix) {
      return openFix(client(connection, ctx), repository, fix);
    },
  };
}

async function openFix(client: BitbucketClient, repository: { fullName: string; defaultBranch: string }, fix: FixToOpen): Promise<FixPullRequest> {
  if (fix.branch === repository.defaultBranch || !fix.branch.startsWith("patchbay/")) {
    throw new Error(`refusing to write a fix to the branch "${fix.branch}"`);
  }
  const repo = `/repositories/${repository.fullName.split("/").map(encodeURIComponent).join("/")}`;
  const branchHead = async (name: string): Promise<string | undefined> => {
    const page = await client.get<Paged<Branch>>(`${repo}/refs/branches?q=${encodeURIComponent(`name = ${bbqlString(name)}`)}&pagelen=10`);
    return (page.values ?? []).find((b) => b.name === name)?.target.hash;
  };
  const findPull = async (): Promise<PullRequest | undefined> => {
    const q = `source.branch.name = ${bbqlString(fix.branch)} AND destination.branch.name = ${bbqlString(repository.defaultBranch)}`;
    const page = await client.get<Paged<PullRequest>>(`${repo}/pullrequests?state=OPEN&q=${encodeURIComponent(q)}&pagelen=10`);
    return (page.values ?? [])[0];
  };
  const commit = (parent: string) =>
    client.form(`${repo}/src`, [
      ["message", fix.message],
      ["branch", fix.branch],
      ["parents", parent],
      ...fix.files.map((f): [string, string] => [`/${f.path}`, f.content]),
    ]);

  let pull = await findPull();
  for (let attempt = 0; ; attempt++) {
    const head = await branchHead(fix.branch);
    try {
      if (head && pull) await commit(head);
      else {
        if (head) await client.delete(`${repo}/refs/branches/${fix.branch.split("/").map(encodeURIComponent).join("/")}`);
        const base = await branchHead(repository.defaultBranch);
        if (!base)
          throw new ExternalError("remote", "Bitbucket", `Bitbucket has no branch ${repository.defaultBranch} in ${repository.fullName}.`, { status: 404 });
        await commit(base);
      }
      break;
    } catch (err) {
      // Another writer moved the branch between the read and the commit (409): read it again, once.
      if (!(err instanceof ExternalError) || err.status !== 409 || attempt > 0) throw err;
      pull = await findPull();
    }
  }

  let existed = true;
  if (pull) await update(client, `${repo}/pullrequests/${pull.id}`, fix);
  else {
    try {
      pull = await client.send<PullRequest>("POST", `${repo}/pullrequests`, {
        title: fix.title,
        description: fix.body,
        source: { branch: { name: fix.branch } },
        destination: { branch: { name: repository.defaultBranch } },
        close_source_branch: true,
        draft: fix.draft,
      });
      existed = false;
    } catch (err) {
      // One open pull request per source and destination: opened meanwhile, or by an attempt whose answer was lost.
      if (!(err instanceof ExternalError) || (err.status !== 400 && err.status !== 409)) throw err;
      pull = await findPull();
      if (!pull) throw err;
      await update(client, `${repo}/pullrequests/${pull.id}`, fix);
    }
  }
  const url = pull.links?.html?.href ?? `https://bitbucket.org/${repository.fullName}/pull-requests/${pull.id}`;
  return { number: pull.id, url, existed, ...(await requestReviews(client, repository.fullName.split("/")[0]!, `${repo}/pullrequests/${pull.id}`, fix)) };
}

/** A pull request's title and description; its reviewers are sent back as they are (an update without them would drop them). */
async function update(client: BitbucketClient, path: string, fix: FixToOpen): Promise<void> {
  const current = await client.get<PullRequest>(path);
  await client.put(path, { title: fix.title, description: fix.body, reviewers: (current.reviewers ?? []).map((r) => ({ uuid: r.uuid })) });
}

/**
 * CODEOWNERS' "@nickname" owners as reviewers, by the workspace members' account UUIDs. Groups,
 * e-mail addresses, people outside the workspace and the pull request's author are left out
 * with the reason.
 */
async function requestReviews(
  client: BitbucketClient,
  workspace: string,
  path: string,
  fix: FixToOpen,
): Promise<{ reviewers: string[]; unrequested: string[] }> {
  const owners = fix.reviewers;
  if (owners.length === 0) return { reviewers: [], unrequested: [] };
  const unrequested: string[] = [];
  const members = new Map<string, string>();
  let url: string | undefined = `/workspaces/${encodeURIComponent(workspace)}/members?pagelen=100`;
  for (let pages = 0; url && pages < 20; pages++) {
    const page: Paged<{ user?: { uuid?: string; nickname?: string } }> = await client.get(url);
    for (const m of page.values ?? []) if (m.user?.uuid && m.user.nickname) members.set(m.user.nickname.toLowerCase(), m.user.uuid);
    url = page.next;
  }
  const current = await client.get<PullRequest>(path);
  const author = current.author?.uuid;
  const chosen = new Map<string, string>((current.reviewers ?? []).map((r) => [r.uuid, r.uuid]));
  const reviewers: string[] = [];
  for (const o of owners) {
    const user = /^@([A-Za-z0-9_.-]+)$/.exec(o);
    const uuid = user ? members.get(user[1]!.toLowerCase()) : undefined;
    if (!user) unrequested.push(`${o} (Bitbucket asks people for review, not groups or addresses)`);
    else if (!uuid) unrequested.push(`${o} (not a member of the workspace)`);
    else if (uuid === author) unrequested.push(`${o} (the pull request's author)`);
    else {
      chosen.set(uuid, uuid);
      reviewers.push(o);
    }
  }
  // The update takes the title with the reviewers.
  if (reviewers.length) await client.put(path, { title: fix.title, description: fix.body, reviewers: [...chosen.keys()].map((uuid) => ({ uuid })) });
  return { reviewers, unrequested };
}
