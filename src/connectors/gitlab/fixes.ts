// Fix merge requests on GitLab: one commit through the commits API with file actions — the
// branch created from the default branch, or reset onto it (force) with the new commit, in the
// same request — then the merge request found by its source branch before one is opened.
// Reviewers are the CODEOWNERS owners GitLab knows as users (groups cannot be asked).
import { ExternalError } from "../../http.js";
import type { ConnectionSettings, ConnectorContext, FixPullRequest, FixPullRequests, FixToOpen } from "../types.js";
import type { GitLabClient } from "./client.js";

interface MergeRequest {
  iid: number;
  web_url: string;
  author?: { username?: string };
}

export function gitlabFixes(client: (connection: ConnectionSettings, ctx: ConnectorContext) => GitLabClient): FixPullRequests {
  return {
    permissions:
      "A token with the api scope, of a user (or project or group bot) with at least the Developer role on the project; protected branches are never written.",
    async open(connection, ctx, repository, fix) {
      return openFix(client(connection, ctx), repository, fix);
    },
  };
}

async function openFix(client: GitLabClient, repository: { fullName: string; defaultBranch: string }, fix: FixToOpen): Promise<FixPullRequest> {
  if (fix.branch === repository.defaultBranch || !fix.branch.startsWith("patchbay/")) {
    throw new Error(`refusing to write a fix to the branch "${fix.branch}"`);
  }
  const project = `/projects/${encodeURIComponent(repository.fullName)}`;
  await client.send("POST", `${project}/repository/commits`, {
    branch: fix.branch,
    start_branch: repository.defaultBranch,
    force: true,
    commit_message: fix.message,
    actions: fix.files.map((f) => ({ action: "update", file_path: f.path, content: f.content })),
  });
  const find = async () => {
    const { data } = await client.get<MergeRequest[]>(
      `${project}/merge_requests?state=opened&source_branch=${encodeURIComponent(fix.branch)}&target_branch=${encodeURIComponent(repository.defaultBranch)}`,
    );
    return data[0];
  };
  const title = fix.draft ? `Draft: ${fix.title}` : fix.title;
  let mr = await find();
  let existed = true;
  if (mr) await client.put(`${project}/merge_requests/${mr.iid}`, { title, description: fix.body });
  else {
    try {
      mr = await client.send<MergeRequest>("POST", `${project}/merge_requests`, {
        source_branch: fix.branch,
        target_branch: repository.defaultBranch,
        title,
        description: fix.body,
        remove_source_branch: true,
      });
      existed = false;
    } catch (err) {
      // GitLab allows one open merge request per source branch (409): opened meanwhile, or by a lost answer.
      if (!(err instanceof ExternalError) || err.status !== 409) throw err;
      mr = await find();
      if (!mr) throw err;
      await client.put(`${project}/merge_requests/${mr.iid}`, { title, description: fix.body });
    }
  }
  return { number: mr.iid, url: mr.web_url, existed, ...(await requestReviews(client, project, mr, fix.reviewers)) };
}

/** CODEOWNERS' "@user" owners as reviewers, by their GitLab user ids; groups, e-mail addresses and the author are left out with the reason. */
async function requestReviews(
  client: GitLabClient,
  project: string,
  mr: MergeRequest,
  owners: string[],
): Promise<{ reviewers: string[]; unrequested: string[] }> {
  const unrequested: string[] = [];
  const ids: number[] = [];
  const reviewers: string[] = [];
  const author = mr.author?.username?.toLowerCase();
  for (const o of owners) {
    const user = /^@([A-Za-z0-9_.-]+)$/.exec(o);
    if (!user) {
      unrequested.push(`${o} (${o.startsWith("@") ? "a group: GitLab asks users to review" : "GitLab asks users, not e-mail addresses"})`);
      continue;
    }
    if (user[1]!.toLowerCase() === author) {
      unrequested.push(`${o} (the merge request's author)`);
      continue;
    }
    const { data } = await client.get<{ id: number; username: string }[]>(`/users?username=${encodeURIComponent(user[1]!)}`);
    const found = data.find((u) => u.username.toLowerCase() === user[1]!.toLowerCase());
    if (!found) {
      // "@group" without a slash is a top-level group, or no one GitLab knows.
      unrequested.push(`${o} (no GitLab user by that name; a group cannot be asked to review)`);
      continue;
    }
    ids.push(found.id);
    reviewers.push(o);
  }
  if (ids.length) await client.put(`${project}/merge_requests/${mr.iid}`, { reviewer_ids: ids });
  return { reviewers, unrequested };
}
