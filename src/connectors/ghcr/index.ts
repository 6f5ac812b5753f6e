// GitHub Container Registry: the container packages of an organization or user (GitHub's
// packages API), pulled from ghcr.io with a token that has read:packages — a connected GitHub
// integration's token, or one of its own.
import { ExternalError } from "../../http.js";
import { createGitHubClient } from "../github/index.js";
import { nextLink as nextGitHubLink } from "../github/client.js";
import {
  REPOSITORIES_FIELD,
  configuredRepositories,
  createRegistryClient,
  registrySession,
  registryTroubleshoot,
  testRegistry,
} from "../oci-registry/index.js";
import type { Connector, ConnectionSettings, ConnectorContext } from "../types.js";

const BASE = "https://ghcr.io";
const MAX_PAGES = 20;

function token(connection: ConnectionSettings): string {
  const value = connection.reused?.secrets.token ?? connection.secrets.token;
  if (!value)
    throw new ExternalError(
      "invalid_input",
      "GitHub Container Registry",
      "Choose a connected GitHub integration with a token, or enter a token with read:packages.",
    );
  return value;
}

function owner(connection: ConnectionSettings): string {
  return String(connection.settings.owner ?? "").trim();
}

/** The owner's container packages, as ghcr.io repositories ("owner/name"). */
async function packages(connection: ConnectionSettings, ctx: ConnectorContext): Promise<string[]> {
  const gh = createGitHubClient({ settings: { githubUrl: "https://github.com" }, secrets: { token: token(connection) } }, ctx);
  const who = owner(connection);
  const out: string[] = [];
  for (const scope of ["orgs", "users"]) {
    let url: string | null = `/${scope}/${encodeURIComponent(who)}/packages?package_type=container&per_page=100`;
    try {
      for (let page = 0; url && page < MAX_PAGES; page++) {
        const { data, response } = await gh.get<{ name: string }[]>(url);
        out.push(...data.map((p) => `${who}/${p.name}`.toLowerCase()));
        url = nextGitHubLink(response.headers.get("link"));
      }
      return out;
    } catch (err) {
      // Not an organization: try it as a user.
      if (scope === "orgs" && err instanceof ExternalError && err.kind === "not_found") continue;
      if (err instanceof ExternalError && err.kind === "permission") {
        throw new ExternalError(
          "permission",
          "GitHub Container Registry",
          `GitHub refused to list ${who}'s packages: the token needs the read:packages scope.`,
          { status: err.status, remoteMessage: err.remoteMessage },
        );
      }
      throw err;
    }
  }
  return out;
}

function client(connection: ConnectionSettings, ctx: ConnectorContext) {
  return createRegistryClient(ctx, BASE, { username: owner(connection) || "patchbay", password: token(connection) });
}

function session(connection: ConnectionSettings, ctx: ConnectorContext) {
  return registrySession(client(connection, ctx), configuredRepositories(connection), () => packages(connection, ctx));
}

export const ghcr: Connector = {
  multiInstance: true,
  card: {
    kind: "ghcr",
    name: "GitHub Container Registry",
    category: "container-registries",
    summary: "Images published to ghcr.io.",
    overview: {
      description:
        "Images your organization publishes to ghcr.io. Patchbay lists its container packages and their tags, resolves digests, and links each image to its source repository through the org.opencontainers.image.source label.",
      benefits: ["An inventory of your images and tags", "Container findings attached to the right image", "Works through a connected GitHub integration"],
      requirements: ["A connected GitHub integration whose token has read:packages, or such a token", "The organization (or user) that owns the packages"],
      docs: [
        {
          label: "GitHub: Working with the Container registry",
          url: "https://docs.github.com/en/packages/working-with-a-github-packages-registry/working-with-the-container-registry",
        },
      ],
    },
  },
  fields: [
    {
      name: "owner",
      label: "Organization or user",
      type: "text",
      required: true,
      glance: true,
      example: "acme",
      validate: (v) => (/^[A-Za-z0-9-]+$/.test(v) ? undefined : "Enter the GitHub organization or user name, like acme."),
    },
    {
      name: "source",
      label: "GitHub integration",
      type: "integration",
      integrationKind: "github",
      editableWhenConnected: true,
      help: "Reuse a connected GitHub integration's token (it needs read:packages); or choose None and enter a token below.",
    },
    { name: "token", label: "Token", type: "secret", editableWhenConnected: true, help: "A classic personal access token with read:packages." },
    { ...REPOSITORIES_FIELD, example: "acme/api, acme/web", help: "Leave empty to list every container package of the organization." },
  ],
  defaultName: (settings) => `GHCR ${String(settings.owner ?? "")}`.trim(),
  test: (connection, ctx) => {
    const registry = client(connection, ctx);
    return testRegistry(
      registry,
      registrySession(registry, configuredRepositories(connection), () => packages(connection, ctx)),
    );
  },
  troubleshoot: registryTroubleshoot,
  registry: { host: () => "ghcr.io", intervalHours: 6, session },
};
