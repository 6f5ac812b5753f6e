// Fix pull requests on GitHub through the Git database API: one tree (the changed files'
// contents inline, no blob requests), one commit on the default branch's head, the branch
// created or moved onto it, and the pull request found by its head branch before one is made —
// four or five content-creating requests, which GitHub's secondary limits count.
import { ExternalError } from "../../http.js";
import type { ConnectionSettings, ConnectorContext, FixPullRequest, FixPullRequests, FixToOpen } from "../types.js";
import type { GitHubClient } from "./client.js";

interface Ref {
  object: { sha: string };
}
interface Commit {
  sha: string;
  tree: { sha: string };
}
interface Pull {
  number: number;
  html_url: string;
  state: string;
}

export function githubFixes(client: (connection: ConnectionSettings, ctx: ConnectorContext) => GitHubClient): FixPullRequests {
  return {
    permissions:
      "Classic token: repo (public_repo for public repositories only). Fine-grained token or GitHub App: Contents and Pull requests, read and write. GitHub does not tell Patchbay what a fine-grained token may write: the first fix pull request confirms it.",
    async open(connection, ctx, repository, fix) {
      return openFix(client(connection, ctx), repository, fix);
    },
  };
}

async function openFix(client: GitHubClient, repository: { fullName: string; defaultBranch: string }, fix: FixToOpen): Promise<FixPullRequest> {
  if (fix.branch === repository.defaultBranch || !fix.branch.startsWith("patchbay/")) {
    throw new Error(`refusing to write a fix to the branch "${fix.branch}"`);
  }
  const repo = `/repos/${repository.fullName.split("/").map(encodeURIComponent).join("/")}`;
  const refPath = (branch: string) => `${repo}/git/ref/heads/${branch.split("/").map(encodeURIComponent).join("/")}`;
  const { data: base } = await client.get<Ref>(refPath(repository.defaultBranch));
  const { data: head } = await client.get<Commit>(`${repo}/git/commits/${base.object.sha}`);
  const tree = await client.send<{ sha: string }>("POST", `${repo}/git/trees`, {
    base_tree: head.tree.sha,
    tree: fix.files.map((f) => ({ path: f.path, mode: "100644", type: "blob", content: f.content })),
  });
  const commit = await client.send<{ sha: string }>("POST", `${repo}/git/commits`, { message: fix.message, tree: tree.sha, parents: [base.object.sha] });
  // The branch: made, or moved onto the new commit (a rerun, or a newer fix of the same package).
  const existing = await optional(client.get<Ref>(refPath(fix.branch)));
  const move = () => client.patch(`${repo}/git/refs/heads/${fix.branch.split("/").map(encodeURIComponent).join("/")}`, { sha: commit.sha, force: true });
  if (existing) await move();
  else {
    try {
      await client.send("POST", `${repo}/git/refs`, { ref: `refs/heads/${fix.branch}`, sha: commit.sha });
    } catch (err) {
      // Made meanwhile (another replica running the same fix): move it instead.
      if (!(err instanceof ExternalError) || err.status !== 422) throw err;
      await move();
    }
  }
  const owner = repository.fullName.split("/")[0]!;
  const find = async () => {
    const { data } = await client.get<Pull[]>(
      `${repo}/pulls?state=open&head=${encodeURIComponent(`${owner}:${fix.branch}`)}&base=${encodeURIComponent(repository.defaultBranch)}`,
    );
    return data[0];
  };
  let pull = await find();
  let existed = true;
  let draftRefused = false;
  if (pull) await client.patch(`${repo}/pulls/${pull.number}`, { title: fix.title, body: fix.body });
  else {
    const create = (draft: boolean) =>
      client.send<Pull>("POST", `${repo}/pulls`, { title: fix.title, head: fix.branch, base: repository.defaultBranch, body: fix.body, draft });
    try {
      try {
        pull = await create(fix.draft);
      } catch (err) {
        // Draft pull requests need a plan that has them (public repositories, or paid plans for
        // private ones): elsewhere GitHub refuses the draft, and the pull request opens ready.
        if (!(fix.draft && err instanceof ExternalError && err.status === 422 && /draft pull requests are not supported/i.test(err.remoteMessage ?? "")))
          throw err;
        pull = await create(false);
        draftRefused = true;
      }
      existed = false;
    } catch (err) {
      // Opened meanwhile, or by an attempt whose answer was lost: GitHub refuses a second one (422), the branch has it.
      if (!(err instanceof ExternalError) || err.status !== 422) throw err;
      pull = await find();
      if (!pull) throw err;
      await client.patch(`${repo}/pulls/${pull.number}`, { title: fix.title, body: fix.body });
    }
  }
  return {
    number: pull.number,
    url: pull.html_url,
    existed,
    ...(draftRefused ? { note: "GitHub has no draft pull requests for this repository's plan: it was opened ready for review." } : {}),
    ...(await requestReviews(client, repo, owner, pull.number, fix.reviewers)),
  };
}

/**
 * Asks the owners CODEOWNERS names to review: accounts and the repository organization's teams.
 * GitHub cannot ask an e-mail address, another organization's team or the pull request's author;
 * those, and reviewers GitHub refuses (not collaborators), are left out with the reason.
 */
async function requestReviews(
  client: GitHubClient,
  repo: string,
  owner: string,
  number: number,
  owners: string[],
): Promise<{ reviewers: string[]; unrequested: string[] }> {
  const unrequested: string[] = [];
  const users: string[] = [];
  const teams: string[] = [];
  const me = owners.length ? (await client.whoami()).toLowerCase() : "";
  for (const o of owners) {
    const team = /^@([^/\s]+)\/([^/\s]+)$/.exec(o);
    const user = /^@([A-Za-z0-9-]+(?:\[bot\])?)$/.exec(o);
    if (team && team[1]!.toLowerCase() === owner.toLowerCase()) teams.push(team[2]!);
    else if (team) unrequested.push(`${o} (a team of another organization)`);
    else if (user && user[1]!.toLowerCase() === me) unrequested.push(`${o} (the pull request's author)`);
    else if (user) users.push(user[1]!);
    else unrequested.push(`${o} (GitHub asks accounts and teams, not e-mail addresses)`);
  }
  const asked = [...users.map((u) => `@${u}`), ...teams.map((t) => `@${owner}/${t}`)];
  if (asked.length === 0) return { reviewers: [], unrequested };
  try {
    await client.send("POST", `${repo}/pulls/${number}/requested_reviewers`, { reviewers: users, team_reviewers: teams });
    return { reviewers: asked, unrequested };
  } catch (err) {
    // Not collaborators, or teams without access: the pull request stands without them.
    if (!(err instanceof ExternalError) || err.status !== 422) throw err;
    return { reviewers: [], unrequested: [...unrequested, ...asked.map((r) => `${r} (${err.remoteMessage ?? "GitHub refused the request"})`)] };
  }
}

/** A GET that may answer 404: undefined then. */
async function optional<T>(request: Promise<{ data: T }>): Promise<T | undefined> {
  try {
    return (await request).data;
  } catch (err) {
    if (err instanceof ExternalError && err.kind === "not_found") return undefined;
    throw err;
  }
}
