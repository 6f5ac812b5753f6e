// Bitbucket Cloud as source control: one workspace, connected with an access token (Bearer)
// or an API token / app password with its username (Basic). Lists the workspace's
// repositories; follows pull requests.
import { ExternalError } from "../../http.js";
import { withAnnotation } from "../annotation.js";
import type { RepositoryFile, Connector, ConnectionSettings, ConnectorContext, RepositoryInfo } from "../types.js";
import { BitbucketClient, type Paged, SERVICE, authorization, bitbucketErrorMessage } from "./client.js";
import { parseBitbucketDelivery, verifyBitbucketDelivery } from "./webhook.js";
import { bitbucketFixes } from "./fixes.js";
import { linkOutsidePullRequestsField } from "../pull-requests.js";

interface BitbucketRepo {
  uuid: string;
  full_name: string;
  is_private?: boolean;
  mainbranch?: { name?: string } | null;
  links?: { html?: { href?: string } };
}

/** Directory depth and pages of the recursive file listing read for manifests and lockfiles. */
const MAX_TREE_DEPTH = 12;
const MAX_TREE_PAGES = 500;
const WORKSPACE = /^[a-z0-9][a-z0-9_-]{0,61}$/i;

export function createBitbucketClient(connection: ConnectionSettings, ctx: ConnectorContext): BitbucketClient {
  return new BitbucketClient(
    ctx.http(SERVICE, { errorMessage: bitbucketErrorMessage }),
    authorization(String(connection.settings.username ?? ""), connection.secrets.token ?? ""),
  );
}

function workspaceOf(connection: ConnectionSettings): string {
  return encodeURIComponent(String(connection.settings.workspace ?? "").toLowerCase());
}

function toRepository(repo: BitbucketRepo): RepositoryInfo {
  return {
    externalId: repo.uuid,
    fullName: repo.full_name,
    url: repo.links?.html?.href ?? `https://bitbucket.org/${repo.full_name}`,
    defaultBranch: repo.mainbranch?.name ?? null,
    visibility: repo.is_private === undefined ? null : repo.is_private ? "private" : "public",
    // Bitbucket Cloud has no archived repositories.
    archived: false,
  };
}

export const bitbucket: Connector = {
  multiInstance: true,
  card: {
    kind: "bitbucket",
    name: "Bitbucket",
    category: "scm",
    summary: "Repositories and pull requests from a Bitbucket Cloud workspace.",
    overview: {
      description: "Connect a Bitbucket Cloud workspace so Patchbay knows its repositories and follows remediation pull requests. Bitbucket Cloud only.",
      benefits: ["List every repository of the workspace, kept up to date every hour", "Follow remediation pull requests as they open and merge"],
      requirements: [
        "To connect by OAuth: an OAuth consumer in the workspace (Workspace settings → OAuth consumers) with Repositories: Read and Pull requests: Write, and the callback URL shown in the Configuration tab",
        "Or a workspace access token with Repositories: Read and Pull requests: Write, or an API token (or app password) with the same permissions and its username",
        "The workspace's ID (the part after bitbucket.org/ in its URL)",
      ],
      docs: [
        { label: "Bitbucket: Workspace access tokens", url: "https://support.atlassian.com/bitbucket-cloud/docs/workspace-access-tokens/" },
        { label: "Bitbucket: Manage webhooks", url: "https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/" },
      ],
    },
  },
  fields: [
    {
      name: "workspace",
      label: "Workspace ID",
      type: "text",
      required: true,
      example: "acme",
      maxLength: 62,
      glance: true,
      help: "The part after bitbucket.org/ in the workspace's URL.",
      validate: (value) => (WORKSPACE.test(value) ? undefined : "Enter the workspace ID as it appears in its URL: letters, digits, - and _."),
    },
    {
      name: "clientId",
      label: "OAuth consumer key",
      type: "text",
      maxLength: 100,
      help: "For Connect with Bitbucket: the key of the workspace's OAuth consumer.",
    },
    {
      name: "clientSecret",
      label: "OAuth consumer secret",
      type: "secret",
      maxLength: 200,
      editableWhenConnected: true,
      help: "For Connect with Bitbucket: the consumer's secret.",
    },
    {
      name: "username",
      label: "Username",
      type: "text",
      maxLength: 200,
      editableWhenConnected: true,
      help: "Only for an API token or app password; leave empty for an access token.",
    },
    {
      name: "token",
      label: "Token",
      type: "secret",
      maxLength: 500,
      editableWhenConnected: true,
      help: "Workspace access token, or API token / app password.",
    },
    {
      name: "webhookSecret",
      label: "Webhook secret",
      type: "secret",
      maxLength: 200,
      editableWhenConnected: true,
      help: "Leave empty to let Patchbay add its webhook to every repository itself (the token needs Webhooks: Read and write). Or enter the secret of a webhook you add by hand.",
      validate: (value) => (value.length < 16 ? "Use a webhook secret of at least 16 characters." : undefined),
    },
    linkOutsidePullRequestsField,
  ],

  async test(connection, ctx) {
    const client = createBitbucketClient(connection, ctx);
    const workspace = await client.get<{ slug?: string; name?: string }>(`/workspaces/${workspaceOf(connection)}`, { apiRoot: false });
    const { data: repos, headers } = await client.getWithHeaders<Paged<BitbucketRepo> & { size?: number }>(
      `/repositories/${workspaceOf(connection)}?pagelen=1`,
    );
    // Access tokens and OAuth say their scopes; app passwords and API tokens do not.
    const scopes = headers.get("x-oauth-scopes");
    const granted = new Set((scopes ?? "").split(/[\s,]+/).filter(Boolean));
    const writes = granted.has("repository:write") || granted.has("repository:admin");
    const pulls = granted.has("pullrequest:write");
    const fixes =
      scopes === null
        ? "Fix pull requests: Bitbucket does not say what this token may write; the first one confirms repository and pull request write access"
        : writes && pulls
          ? "Fix pull requests: the token's repository:write and pullrequest:write scopes let Patchbay open them"
          : `Fix pull requests need ${[writes ? "" : "repository:write", pulls ? "" : "pullrequest:write"].filter(Boolean).join(" and ")}, which this token lacks (scopes: ${[...granted].join(", ") || "none"})`;
    return {
      message: "Connected to Bitbucket: the token was accepted.",
      details: [`Workspace: ${workspace.name ?? workspace.slug}`, `Repositories visible: ${repos.size ?? repos.values.length}`, fixes],
    };
  },

  troubleshoot(error) {
    if (error.kind === "auth") {
      return {
        title: "Connection Failed — Bitbucket rejected the token",
        steps: [
          "Verify your credentials are correct: an access token needs no username; an API token or app password needs its username.",
          "Check that the token has not expired or been revoked.",
        ],
      };
    }
    if (error.kind === "not_found") {
      return {
        title: "Connection Failed — workspace not found",
        steps: ["Check the Workspace ID: it is the part after bitbucket.org/ in the workspace's URL.", "Ensure the token belongs to that workspace."],
      };
    }
    return undefined;
  },

  defaultName(settings) {
    return `Bitbucket ${String(settings.workspace ?? "")}`.trim();
  },

  oauth: {
    endpoints: () => ({ authorize: "https://bitbucket.org/site/oauth2/authorize", token: "https://bitbucket.org/site/oauth2/access_token" }),
    // Bitbucket takes the scopes from the consumer's own settings.
    scopes: [],
    pkce: false,
    clientAuth: "basic",
    clientIdField: "clientId",
    clientSecretField: "clientSecret",
    tokenSecret: "token",
  },

  scm: {
    provider: "bitbucket",
    codeownersPaths: [".bitbucket/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"],
    intervalHours: 1,
    files(connection, ctx, repository) {
      const client = createBitbucketClient(connection, ctx);
      const src = `/repositories/${repository.fullName.split("/").map(encodeURIComponent).join("/")}/src/${encodeURIComponent(repository.defaultBranch ?? "HEAD")}`;
      return {
        async list() {
          const out: RepositoryFile[] = [];
          // max_depth makes the directory listing recursive (breadth first), paged by `next`.
          let url: string | null = `${src}/?max_depth=${MAX_TREE_DEPTH}&pagelen=100`;
          for (let n = 0; url && n < MAX_TREE_PAGES; n++) {
            let page: Paged<{ path: string; type: string; size?: number }>;
            try {
              page = await client.get<typeof page>(url);
            } catch (err) {
              // An empty repository has no branch to list.
              if (err instanceof ExternalError && err.status === 404 && out.length === 0) return [];
              throw err;
            }
            if (!Array.isArray(page.values))
              throw new ExternalError("remote", SERVICE, `Bitbucket answered the file list of ${repository.fullName} without values.`);
            for (const e of page.values) if (e.type === "commit_file") out.push({ path: e.path, sha: null, size: e.size ?? null });
            url = page.next ?? null;
          }
          return out;
        },
        read: (path, maxBytes) => client.raw(`${src}/${path.split("/").map(encodeURIComponent).join("/")}`, maxBytes),
      };
    },
    session(connection, ctx) {
      const client = createBitbucketClient(connection, ctx);
      return {
        async listRepositories(cursor) {
          const page = await client.get<Paged<BitbucketRepo>>(cursor ?? `/repositories/${workspaceOf(connection)}?pagelen=100&sort=full_name`);
          if (!Array.isArray(page.values)) throw new ExternalError("remote", SERVICE, "Bitbucket answered the repository list without values.");
          return { repositories: page.values.map(toRepository), nextCursor: page.next ?? null };
        },
      };
    },
    fixes: bitbucketFixes(createBitbucketClient),
    async annotatePullRequest(connection, ctx, pr, text) {
      const client = createBitbucketClient(connection, ctx);
      const path = `/repositories/${pr.repository.split("/").map(encodeURIComponent).join("/")}/pullrequests/${pr.number}`;
      const current = await client.get<{ title?: string; description?: string | null }>(path);
      const description = withAnnotation(current.description ?? "", text);
      // Bitbucket's update takes the title with the description.
      if (description !== (current.description ?? "")) await client.put(path, { title: current.title, description });
    },
    webhook: {
      secretField: "webhookSecret",
      instructions: [
        "In Bitbucket, add a webhook to each repository (Repository settings → Webhooks).",
        "URL: the URL above. Secret: the same Webhook secret entered here.",
        "Triggers: Pull request Created, Updated, Merged and Declined.",
      ],
      verify: verifyBitbucketDelivery,
      parse: (event, rawBody) => parseBitbucketDelivery(event, rawBody),
      async registered(connection, ctx, repository, url) {
        const client = createBitbucketClient(connection, ctx);
        const page = await client.get<Paged<{ url?: string }>>(`/repositories/${repository.split("/").map(encodeURIComponent).join("/")}/hooks?pagelen=100`);
        return (page.values ?? []).some((h) => h.url === url);
      },
      async register(connection, ctx, repository, hook) {
        const client = createBitbucketClient(connection, ctx);
        const path = `/repositories/${repository.split("/").map(encodeURIComponent).join("/")}/hooks`;
        const page = await client.get<Paged<{ uuid: string; url?: string }>>(`${path}?pagelen=100`);
        const existing = (page.values ?? []).find((h) => h.url === hook.url);
        const body = {
          description: "Patchbay",
          url: hook.url,
          active: true,
          secret: hook.secret,
          events: ["pullrequest:created", "pullrequest:updated", "pullrequest:fulfilled", "pullrequest:rejected"],
        };
        if (existing) {
          await client.send("PUT", `${path}/${encodeURIComponent(existing.uuid)}`, body);
          return "updated";
        }
        await client.send("POST", path, body);
        return "created";
      },
    },
  },
};
