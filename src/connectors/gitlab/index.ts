// GitLab as source control: gitlab.com or self-managed, connected with a personal, group or
// project access token. Lists the projects the token is a member of; follows merge requests.
import { gitlabFixes } from "./fixes.js";
import { ExternalError } from "../../http.js";
import { withAnnotation } from "../annotation.js";
import { expiryNote, type HealthNote } from "../types.js";
import type { RepositoryFile, Connector, ConnectionSettings, ConnectorContext, RepositoryInfo } from "../types.js";
import { GitLabClient, SERVICE, apiBase, expectList, gitlabErrorMessage, nextPage } from "./client.js";
import { parseGitLabDelivery, verifyGitLabDelivery } from "./webhook.js";
import { linkOutsidePullRequestsField } from "../pull-requests.js";

/** 500 pages of 100 entries: a repository tree beyond 50,000 entries is read in part. */
const MAX_TREE_PAGES = 500;

interface GitLabProject {
  id: number;
  path_with_namespace: string;
  web_url: string;
  default_branch?: string | null;
  visibility?: string | null;
  archived?: boolean;
  /** GitLab 14.5+; older servers call them tag_list. */
  topics?: string[];
  tag_list?: string[];
}

export function createGitLabClient(connection: ConnectionSettings, ctx: ConnectorContext): GitLabClient {
  const base = apiBase(String(connection.settings.gitlabUrl ?? "https://gitlab.com"));
  if (!base) throw new ExternalError("invalid_input", SERVICE, "The GitLab URL is not a valid address.");
  return new GitLabClient(ctx.http(SERVICE, { errorMessage: gitlabErrorMessage }), base, connection.secrets.token ?? "");
}

function toRepository(project: GitLabProject): RepositoryInfo {
  return {
    externalId: String(project.id),
    fullName: project.path_with_namespace,
    url: project.web_url,
    defaultBranch: project.default_branch ?? null,
    visibility: project.visibility ?? null,
    archived: Boolean(project.archived),
    topics: (Array.isArray(project.topics) ? project.topics : Array.isArray(project.tag_list) ? project.tag_list : []).filter((t) => typeof t === "string"),
  };
}

export const gitlab: Connector = {
  multiInstance: true,
  card: {
    kind: "gitlab",
    name: "GitLab",
    category: "scm",
    summary: "Projects and merge requests from GitLab.com or a self-managed GitLab.",
    overview: {
      description:
        "Connect GitLab so Patchbay knows your projects: SCA findings are imported only for projects source control makes accessible, and remediation merge requests are followed there.",
      benefits: [
        "List every project the token is a member of, kept up to date every hour",
        "Follow remediation merge requests as they open and merge",
        "Works with self-managed GitLab servers",
      ],
      requirements: [
        "To connect by OAuth: a GitLab OAuth application (User or Group settings → Applications) with the api scope and the callback URL shown in the Configuration tab",
        "Or a personal, group or project access token with the api scope (read_api is enough to list projects; api lets Patchbay annotate merge requests)",
        "For self-managed GitLab: the server's address, reachable from Patchbay",
      ],
      docs: [
        { label: "GitLab: Personal access tokens", url: "https://docs.gitlab.com/user/profile/personal_access_tokens/" },
        { label: "GitLab: Webhooks", url: "https://docs.gitlab.com/user/project/integrations/webhooks/" },
      ],
    },
  },
  fields: [
    {
      name: "gitlabUrl",
      label: "GitLab URL",
      type: "url",
      required: true,
      example: "https://gitlab.com",
      help: "https://gitlab.com, or your self-managed GitLab's address.",
      maxLength: 200,
      glance: true,
      validate: (value) => (apiBase(value) ? undefined : "Enter https://gitlab.com or your GitLab server's address, such as https://gitlab.example.com."),
    },
    {
      name: "clientId",
      label: "OAuth application ID",
      type: "text",
      maxLength: 100,
      help: "For Connect with GitLab: the Application ID of a GitLab OAuth application with the api scope.",
    },
    {
      name: "clientSecret",
      label: "OAuth application secret",
      type: "secret",
      maxLength: 200,
      editableWhenConnected: true,
      help: "For Connect with GitLab: the application's secret.",
    },
    {
      name: "token",
      label: "Access token",
      type: "secret",
      maxLength: 500,
      editableWhenConnected: true,
      help: "Or a personal, group or project access token with the api scope.",
    },
    {
      name: "webhookSecret",
      label: "Webhook secret token",
      type: "secret",
      maxLength: 200,
      editableWhenConnected: true,
      help: "Leave empty to let Patchbay add its webhook to every project itself (the token needs Maintainer access). Or enter the secret token of a webhook you add by hand.",
      validate: (value) => (value.length < 16 ? "Use a webhook secret token of at least 16 characters." : undefined),
    },
    linkOutsidePullRequestsField,
  ],

  async test(connection, ctx) {
    const client = createGitLabClient(connection, ctx);
    const { data } = await client.get<{ username?: string }>("/user", { apiRoot: true });
    if (!data.username) throw new ExternalError("remote", SERVICE, "GitLab answered /user without a username.");
    const details = [`Signed in as ${data.username}`];
    try {
      const { data: token } = await client.get<{ scopes?: string[]; expires_at?: string | null }>("/personal_access_tokens/self");
      const scopes = token.scopes ?? [];
      details.push(
        scopes.includes("api")
          ? `Scopes: ${scopes.join(", ")}`
          : `Token without the api scope (${scopes.join(", ") || "none"}): merge requests cannot be annotated, and fix merge requests cannot be opened`,
      );
      if (scopes.includes("api"))
        details.push("Fix merge requests: the api scope lets Patchbay open them where the token's user has at least the Developer role");
      if (token.expires_at) details.push(`Token expires on ${token.expires_at}`);
    } catch (err) {
      if (!(err instanceof ExternalError) || err.kind === "auth") throw err;
      details.push("Token scopes could not be read (older GitLab, or not a personal access token)");
    }
    return { message: "Connected to GitLab: the token was accepted.", details };
  },

  async health(connection, ctx, now) {
    const client = createGitLabClient(connection, ctx);
    // OAuth-connected integrations refresh their tokens: nothing expires that Patchbay cannot renew.
    if (!connection.secrets.token || connection.secrets.refreshToken) return [];
    let token: { scopes?: string[]; expires_at?: string | null };
    try {
      ({ data: token } = await client.get<typeof token>("/personal_access_tokens/self"));
    } catch (err) {
      if (err instanceof ExternalError && err.kind !== "auth" && err.kind !== "unreachable") return [];
      throw err;
    }
    const notes: HealthNote[] = [];
    const expiry = token.expires_at ? expiryNote("The GitLab access token", Date.parse(`${token.expires_at}T00:00:00Z`), now) : undefined;
    if (expiry) notes.push(expiry);
    if (!(token.scopes ?? []).includes("api"))
      notes.push({
        level: "warning",
        message: `The GitLab token lacks the api scope (it has ${(token.scopes ?? []).join(", ") || "none"}): merge requests cannot be annotated, webhooks not added, issues not pushed.`,
      });
    return notes;
  },

  troubleshoot(error) {
    if (error.kind === "auth") {
      return {
        title: "Connection Failed — GitLab rejected the token",
        steps: [
          "Verify your credentials are correct: copy the whole token again.",
          "Check that the token has not expired or been revoked, and that it has the api scope.",
        ],
      };
    }
    return undefined;
  },

  defaultName(settings) {
    const base = apiBase(String(settings.gitlabUrl ?? ""));
    const host = base ? new URL(base).hostname : "";
    return !host || host === "gitlab.com" ? "GitLab" : `GitLab ${host}`;
  },

  oauth: {
    endpoints(settings) {
      const web = apiBase(String(settings.gitlabUrl ?? "https://gitlab.com"))!.replace(/\/api\/v4$/, "");
      return { authorize: `${web}/oauth/authorize`, token: `${web}/oauth/token` };
    },
    scopes: ["api"],
    pkce: true,
    clientAuth: "body",
    clientIdField: "clientId",
    clientSecretField: "clientSecret",
    tokenSecret: "token",
  },

  scm: {
    provider: "gitlab",
    codeownersPaths: ["CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS"],
    intervalHours: 1,
    fixes: gitlabFixes(createGitLabClient),
    files(connection, ctx, repository) {
      const client = createGitLabClient(connection, ctx);
      const project = `/projects/${encodeURIComponent(repository.fullName)}`;
      const ref = repository.defaultBranch ? `&ref=${encodeURIComponent(repository.defaultBranch)}` : "";
      return {
        async list() {
          const out: RepositoryFile[] = [];
          let page: string | null = "1";
          for (let n = 0; page && n < MAX_TREE_PAGES; n++) {
            let result;
            try {
              result = await client.get<unknown>(`${project}/repository/tree?recursive=true&per_page=100&page=${page}${ref}`);
            } catch (err) {
              // An empty project has no tree: 404 "Tree Not Found".
              if (err instanceof ExternalError && err.status === 404 && out.length === 0) return [];
              throw err;
            }
            for (const e of expectList<{ id: string; type: string; path: string }>(result.data, "the file tree")) {
              if (e.type === "blob") out.push({ path: e.path, sha: e.id, size: null });
            }
            page = nextPage(result.response);
          }
          return out;
        },
        read: (path, maxBytes) => client.raw(`${project}/repository/files/${encodeURIComponent(path)}/raw?${ref.slice(1) || "ref=HEAD"}`, maxBytes),
      };
    },
    session(connection, ctx) {
      const client = createGitLabClient(connection, ctx);
      return {
        async listRepositories(cursor) {
          const page = cursor ?? "1";
          const { data, response } = await client.get<unknown>(`/projects?membership=true&simple=true&order_by=id&sort=asc&per_page=100&page=${page}`);
          return { repositories: expectList<GitLabProject>(data, "the project list").map(toRepository), nextCursor: nextPage(response) };
        },
      };
    },
    async annotatePullRequest(connection, ctx, pr, text) {
      const client = createGitLabClient(connection, ctx);
      const path = `/projects/${encodeURIComponent(pr.repository)}/merge_requests/${pr.number}`;
      const { data } = await client.get<{ description?: string | null }>(path);
      const description = withAnnotation(data.description ?? "", text);
      if (description !== (data.description ?? "")) await client.put(path, { description });
    },
    webhook: {
      secretField: "webhookSecret",
      instructions: [
        "In GitLab, add a webhook to the group (Settings → Webhooks) or to each project.",
        "URL: the URL above. Secret token: the same Webhook secret token entered here.",
        "Trigger: Merge request events.",
      ],
      verify: verifyGitLabDelivery,
      parse: (event, rawBody) => parseGitLabDelivery(event, rawBody),
      async registered(connection, ctx, repository, url) {
        const client = createGitLabClient(connection, ctx);
        const { data } = await client.get<unknown>(`/projects/${encodeURIComponent(repository)}/hooks?per_page=100`);
        return expectList<{ url?: string }>(data, "the webhook list").some((h) => h.url === url);
      },
      async register(connection, ctx, repository, hook) {
        const client = createGitLabClient(connection, ctx);
        const path = `/projects/${encodeURIComponent(repository)}/hooks`;
        const { data } = await client.get<unknown>(`${path}?per_page=100`);
        const existing = expectList<{ id: number; url?: string }>(data, "the webhook list").find((h) => h.url === hook.url);
        const body = {
          url: hook.url,
          token: hook.secret,
          merge_requests_events: true,
          issues_events: true,
          note_events: true,
          push_events: false,
          enable_ssl_verification: true,
        };
        if (existing) {
          await client.send("PUT", `${path}/${existing.id}`, body);
          return "updated";
        }
        await client.send("POST", path, body);
        return "created";
      },
    },
  },
};
