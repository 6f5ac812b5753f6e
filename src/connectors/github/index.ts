// GitHub as source control: github.com or GitHub Enterprise Server, connected with a
// personal access token (fine-grained or classic). Lists the repositories the token reaches.
import { githubFixes } from "./fixes.js";
import { ExternalError } from "../../http.js";
import { expiryNote, type HealthNote } from "../types.js";
import type { Connector, ConnectionSettings, ConnectorContext, RepositoryInfo } from "../types.js";
import { type AppCredentials, appLogin, installationToken, privateKeyError } from "./app.js";
import { GITHUB_PACING, GitHubClient, SERVICE, apiBase, githubErrorMessage, nextLink } from "./client.js";
import { paceFields } from "../pace.js";
import { GITHUB_MAX_DELIVERY_BYTES, GITHUB_SIGNATURE_HEADERS, parseGitHubDelivery, verifyGitHubDelivery } from "./webhook.js";
import { withAnnotation } from "../annotation.js";
import { linkOutsidePullRequestsField } from "../pull-requests.js";

interface GitHubRepo {
  id: number;
  full_name: string;
  html_url: string;
  default_branch?: string | null;
  visibility?: string | null;
  private?: boolean;
  archived?: boolean;
  topics?: string[];
}

const WANTED_SCOPES = ["repo", "read:org", "security_events"];
/** Pull requests for remediation; issues and their comments for GitHub Issues' two-way sync. */
const HOOK_EVENTS = ["pull_request", "issues", "issue_comment"];

export function createGitHubClient(connection: ConnectionSettings, ctx: ConnectorContext): GitHubClient {
  const base = apiBase(String(connection.settings.githubUrl ?? "https://github.com"));
  if (!base) throw new ExternalError("invalid_input", SERVICE, "The GitHub URL is not a valid address.");
  const http = ctx.http(SERVICE, { errorMessage: githubErrorMessage });
  const app = appCredentials(connection);
  return app
    ? new GitHubClient(
        http,
        base,
        () => installationToken(http, base, app),
        () => appLogin(http, base, app),
      )
    : new GitHubClient(http, base, connection.secrets.token ?? "");
}

/** GitHub App installation credentials, when all three are set (they take precedence over a token). */
function appCredentials(connection: ConnectionSettings): AppCredentials | undefined {
  const appId = String(connection.settings.appId ?? "").trim();
  const installationId = String(connection.settings.installationId ?? "").trim();
  const privateKey = connection.secrets.appPrivateKey;
  return appId && installationId && privateKey ? { appId, installationId, privateKey } : undefined;
}

function toRepository(repo: GitHubRepo): RepositoryInfo {
  return {
    externalId: String(repo.id),
    fullName: repo.full_name,
    url: repo.html_url,
    defaultBranch: repo.default_branch ?? null,
    visibility: repo.visibility ?? (repo.private ? "private" : "public"),
    archived: Boolean(repo.archived),
    topics: Array.isArray(repo.topics) ? repo.topics.filter((t) => typeof t === "string") : [],
  };
}

export const github: Connector = {
  multiInstance: true,
  card: {
    kind: "github",
    name: "GitHub",
    category: "scm",
    summary: "Repositories from GitHub or GitHub Enterprise Server.",
    overview: {
      description:
        "Connect GitHub so Patchbay knows your repositories: SCA findings are imported only for repositories source control makes accessible, and remediation pull requests are followed there.",
      benefits: [
        "List every repository the token can reach, kept up to date every hour",
        "Match scanner findings to repositories by their URL",
        "Works with github.com and GitHub Enterprise Server",
      ],
      requirements: [
        "To connect by OAuth: a GitHub OAuth App of your organization, with the callback URL shown in the Configuration tab",
        "Or a GitHub App installed on your organization (App ID, installation ID and private key), with Metadata: read, Pull requests: read and write, Webhooks: read and write",
        "Or a fine-grained personal access token with read access to the repositories' metadata (and pull requests), or a classic token with the repo, read:org and security_events scopes",
        "For GitHub Enterprise Server: the server's address, reachable from Patchbay",
      ],
      docs: [
        {
          label: "GitHub: Managing personal access tokens",
          url: "https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/managing-your-personal-access-tokens",
        },
        {
          label: "GitHub: List repositories for the authenticated user",
          url: "https://docs.github.com/en/rest/repos/repos#list-repositories-for-the-authenticated-user",
        },
      ],
    },
  },
  fields: [
    {
      name: "githubUrl",
      label: "GitHub URL",
      type: "url",
      required: true,
      example: "https://github.com",
      help: "https://github.com, or your GitHub Enterprise Server's address.",
      maxLength: 200,
      glance: true,
      validate: (value) =>
        apiBase(value) ? undefined : "Enter https://github.com or your GitHub Enterprise Server's address, such as https://github.example.com.",
    },
    {
      name: "clientId",
      label: "OAuth App client ID",
      type: "text",
      maxLength: 100,
      help: "For Connect with GitHub: the client ID of your organization's GitHub OAuth App.",
    },
    {
      name: "clientSecret",
      label: "OAuth App client secret",
      type: "secret",
      maxLength: 200,
      editableWhenConnected: true,
      help: "For Connect with GitHub: the OAuth App's client secret.",
    },
    {
      name: "token",
      label: "Personal access token",
      type: "secret",
      maxLength: 500,
      editableWhenConnected: true,
      help: "Fine-grained (repository metadata and pull requests) or classic (repo, read:org, security_events).",
    },
    {
      name: "appId",
      label: "GitHub App ID",
      type: "text",
      maxLength: 20,
      help: "Or connect as a GitHub App installation: the App ID (App settings → General).",
      validate: (v) => (/^\d+$/.test(v) ? undefined : "The App ID is a number."),
    },
    {
      name: "installationId",
      label: "Installation ID",
      type: "text",
      maxLength: 20,
      help: "The number at the end of the installation's settings URL.",
      validate: (v) => (/^\d+$/.test(v) ? undefined : "The installation ID is a number."),
    },
    {
      name: "appPrivateKey",
      label: "GitHub App private key",
      type: "secret",
      multiline: true,
      maxLength: 8000,
      editableWhenConnected: true,
      help: "The .pem file generated in the App's settings.",
      validate: privateKeyError,
    },
    {
      name: "webhookSecret",
      label: "Webhook secret",
      type: "secret",
      maxLength: 200,
      editableWhenConnected: true,
      help: "Leave empty to let Patchbay add its webhook to every repository itself (the token needs admin:repo_hook, or Webhooks: write). Or enter the secret of a webhook you add by hand.",
      validate: (value) => (value.length < 16 ? "Use a webhook secret of at least 16 characters." : undefined),
    },
    linkOutsidePullRequestsField,
    ...paceFields(GITHUB_PACING),
  ],
  pacing: GITHUB_PACING,

  async test(connection, ctx) {
    const client = createGitHubClient(connection, ctx);
    if (client.installation) {
      const { data } = await client.get<{ total_count?: number }>("/installation/repositories?per_page=1", { apiRoot: true });
      return {
        message: "Connected to GitHub as an App installation: the private key and installation were accepted.",
        details: [
          `App ${connection.settings.appId}, installation ${connection.settings.installationId}`,
          `Repositories granted to the installation: ${data.total_count ?? 0}`,
        ],
      };
    }
    const { data, response } = await client.get<{ login?: string }>("/user", { apiRoot: true });
    if (!data.login) throw new ExternalError("remote", SERVICE, "GitHub answered /user without a login.");
    const scopes = response.headers.get("x-oauth-scopes");
    const details = [`Signed in as ${data.login}`];
    if (scopes !== null) {
      const granted = scopes
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      const missing = WANTED_SCOPES.filter((s) => !granted.includes(s));
      details.push(missing.length ? `Classic token without ${missing.join(", ")}: some features will not work` : `Scopes: ${granted.join(", ")}`);
      details.push(
        granted.includes("repo")
          ? "Fix pull requests: the repo scope lets Patchbay open them"
          : "Fix pull requests need the repo scope, which this token lacks",
      );
    } else {
      details.push("Fine-grained token: repository access as its owner granted it");
      details.push(
        "Fix pull requests: GitHub does not say what a fine-grained token may write; the first one confirms Contents and Pull requests write access",
      );
    }
    return { message: "Connected to GitHub: the token was accepted.", details };
  },

  async health(connection, ctx, now) {
    const client = createGitHubClient(connection, ctx);
    // App installation tokens are renewed by Patchbay; OAuth tokens by their refresh token.
    if (client.installation || connection.secrets.refreshToken) return [];
    const { response } = await client.get<{ login?: string }>("/user", { apiRoot: true });
    const notes: HealthNote[] = [];
    // "2026-12-01 10:00:00 UTC" on tokens that expire.
    const expires = response.headers.get("github-authentication-token-expiration");
    const at = expires ? Date.parse(expires.replace(/^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) UTC$/, "$1T$2Z")) : NaN;
    const expiry = Number.isNaN(at) ? undefined : expiryNote("The GitHub token", at, now);
    if (expiry) notes.push(expiry);
    const scopes = response.headers.get("x-oauth-scopes");
    if (scopes !== null) {
      const granted = scopes
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      const missing = WANTED_SCOPES.filter((s) => !granted.includes(s));
      if (missing.length)
        notes.push({
          level: "warning",
          message:
            `The classic GitHub token lacks ${missing.join(", ")}: ${missing.includes("security_events") ? "Dependabot and code scanning alerts cannot be read; " : ""}${missing.includes("repo") ? "private repositories and pull requests are out of reach; " : ""}add the scopes or use a token that has them.`.replace(
              /; add/,
              ". Add",
            ),
        });
    }
    return notes;
  },

  troubleshoot(error) {
    if (error.kind === "auth") {
      return {
        title: "Connection Failed — GitHub rejected the token",
        steps: [
          "Verify your credentials are correct: copy the whole token again.",
          "Check that the token has not expired or been revoked (Settings → Developer settings → Personal access tokens).",
          "For an organization with SSO, authorize the token for the organization.",
        ],
      };
    }
    if (error.kind === "unreachable") {
      return {
        title: "Connection Failed — GitHub unreachable",
        steps: [
          "Check that the service is accessible from your network (from the machine running Patchbay).",
          "For GitHub Enterprise Server, check the address; Patchbay uses its /api/v3 API.",
        ],
      };
    }
    return undefined;
  },

  defaultName(settings) {
    const base = apiBase(String(settings.githubUrl ?? ""));
    return base === "https://api.github.com" || !base ? "GitHub" : `GitHub ${new URL(base).hostname}`;
  },

  oauth: {
    endpoints(settings) {
      const web = new URL(String(settings.githubUrl ?? "https://github.com")).origin;
      return { authorize: `${web}/login/oauth/authorize`, token: `${web}/login/oauth/access_token` };
    },
    scopes: WANTED_SCOPES,
    pkce: true,
    clientAuth: "body",
    clientIdField: "clientId",
    clientSecretField: "clientSecret",
    tokenSecret: "token",
    tokenAlternatives: ["appPrivateKey"],
  },

  scm: {
    provider: "github",
    codeownersPaths: [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"],
    intervalHours: 1,
    fixes: githubFixes(createGitHubClient),
    async annotatePullRequest(connection, ctx, pr, text) {
      const client = createGitHubClient(connection, ctx);
      const path = `/repos/${pr.repository.split("/").map(encodeURIComponent).join("/")}/pulls/${pr.number}`;
      const { data } = await client.get<{ body?: string | null }>(path);
      const body = withAnnotation(data.body ?? "", text);
      if (body !== (data.body ?? "")) await client.patch(path, { body });
    },
    webhook: {
      secretField: "webhookSecret",
      instructions: [
        "In GitHub, add a webhook to the organization (Settings → Webhooks) or to each repository.",
        "Payload URL: the URL above. Content type: application/json.",
        "Secret: the same Webhook secret entered here.",
        "Events: choose “Let me select individual events” and tick Pull requests (and Issues and Issue comments, for GitHub Issues' two-way sync).",
      ],
      verify: verifyGitHubDelivery,
      signatureHeaders: GITHUB_SIGNATURE_HEADERS,
      maxBodyBytes: GITHUB_MAX_DELIVERY_BYTES,
      parse: parseGitHubDelivery,
      async registered(connection, ctx, repository, url) {
        const client = createGitHubClient(connection, ctx);
        const { data: hooks } = await client.get<{ config?: { url?: string } }[]>(
          `/repos/${repository.split("/").map(encodeURIComponent).join("/")}/hooks?per_page=100`,
        );
        return Array.isArray(hooks) && hooks.some((h) => h.config?.url === url);
      },
      async register(connection, ctx, repository, hook) {
        const client = createGitHubClient(connection, ctx);
        const path = `/repos/${repository.split("/").map(encodeURIComponent).join("/")}/hooks`;
        const { data: hooks } = await client.get<{ id: number; config?: { url?: string } }[]>(`${path}?per_page=100`);
        const config = { url: hook.url, content_type: "json", secret: hook.secret, insecure_ssl: "0" };
        const existing = Array.isArray(hooks) ? hooks.find((h) => h.config?.url === hook.url) : undefined;
        if (existing) {
          await client.send("PATCH", `${path}/${existing.id}`, { active: true, events: HOOK_EVENTS, config });
          return "updated";
        }
        await client.send("POST", path, { name: "web", active: true, events: HOOK_EVENTS, config });
        return "created";
      },
    },
    files(connection, ctx, repository) {
      const client = createGitHubClient(connection, ctx);
      const repo = `/repos/${repository.fullName.split("/").map(encodeURIComponent).join("/")}`;
      const ref = repository.defaultBranch ?? "HEAD";
      return {
        async list() {
          let data: { tree?: { path: string; type: string; sha: string; size?: number }[]; truncated?: boolean };
          try {
            ({ data } = await client.get<typeof data>(`${repo}/git/trees/${encodeURIComponent(ref)}?recursive=1`));
          } catch (err) {
            // 409 "Git Repository is empty"; 404 for a branch that does not exist yet.
            if (err instanceof ExternalError && (err.status === 409 || err.status === 404)) return [];
            throw err;
          }
          if (!Array.isArray(data.tree)) throw new ExternalError("remote", SERVICE, `GitHub answered the file tree of ${repository.fullName} without a tree.`);
          if (data.truncated)
            ctx.logger.warn("GitHub truncated the file tree (over 100,000 entries); files beyond it are not read", { repository: repository.fullName });
          return data.tree.filter((e) => e.type === "blob").map((e) => ({ path: e.path, sha: e.sha, size: e.size ?? null }));
        },
        read: (path, maxBytes) => client.raw(`${repo}/contents/${path.split("/").map(encodeURIComponent).join("/")}?ref=${encodeURIComponent(ref)}`, maxBytes),
      };
    },
    session(connection, ctx) {
      const client = createGitHubClient(connection, ctx);
      return {
        async listRepositories(cursor) {
          if (client.installation) {
            // An installation lists what it was granted: {total_count, repositories}.
            const { data, response } = await client.get<{ repositories?: GitHubRepo[] }>(cursor ?? "/installation/repositories?per_page=100");
            if (!Array.isArray(data.repositories))
              throw new ExternalError("remote", SERVICE, "GitHub answered the installation's repository list without repositories.");
            return { repositories: data.repositories.map(toRepository), nextCursor: nextLink(response.headers.get("link")) };
          }
          const { data, response } = await client.get<GitHubRepo[]>(
            cursor ?? "/user/repos?per_page=100&sort=full_name&affiliation=owner,collaborator,organization_member",
          );
          if (!Array.isArray(data)) throw new ExternalError("remote", SERVICE, "GitHub answered the repository list with something that is not a list.");
          return { repositories: data.map(toRepository), nextCursor: nextLink(response.headers.get("link")) };
        },
      };
    },
  },
};
