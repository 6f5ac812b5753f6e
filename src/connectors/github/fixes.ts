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
  const open = await find();
  if (open) {
    await client.patch(`${repo}/pulls/${open.number}`, { title: fix.title, body: fix.body });
    return { number: open.number, url: open.html_url, existed: true };
  }
  try {
    const created = await client.send<Pull>("POST", `${repo}/pulls`, {
      title: fix.title,
      head: fix.branch,
      base: repository.defaultBranch,
      body: fix.body,
      draft: fix.draft,
    });
    return { number: created.number, url: created.html_url, existed: false };
  } catch (err) {
    // Opened meanwhile, or by an attempt whose answer was lost: GitHub refuses a second one (422), the branch has it.
    if (!(err instanceof ExternalError) || err.status !== 422) throw err;
    const found = await find();
    if (!found) throw err;
    await client.patch(`${repo}/pulls/${found.number}`, { title: fix.title, body: fix.body });
    return { number: found.number, url: found.html_url, existed: true };
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
