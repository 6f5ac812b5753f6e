// Docker Hub: the repositories of an organization or user (Docker Hub's own API lists them;
// the registry has no catalog), pulled from registry-1.docker.io with a personal or
// organization access token through Docker's token service.
import { ExternalError, type HttpClient } from "../../http.js";
import {
  REPOSITORIES_FIELD,
  configuredRepositories,
  createRegistryClient,
  registrySession,
  registryTroubleshoot,
  testRegistry,
} from "../oci-registry/index.js";
import type { Connector, ConnectionSettings, ConnectorContext } from "../types.js";

const SERVICE = "Docker Hub";
const REGISTRY = "https://registry-1.docker.io";
/** Docker Hub signs registry clients in here (its WWW-Authenticate realm). */
const DOCKER_HUB_TOKEN_SERVICE = "https://auth.docker.io";
const HUB = "https://hub.docker.com";
const MAX_PAGES = 20;

function credentials(connection: ConnectionSettings) {
  const username = String(connection.settings.username ?? "");
  const password = connection.secrets.token ?? "";
  return username && password ? { username, password } : undefined;
}

function namespace(connection: ConnectionSettings): string {
  return String(connection.settings.namespace ?? "")
    .trim()
    .toLowerCase();
}

/** Docker Hub's API: a JWT from the credentials (public repositories need none), then the list. */
async function repositories(connection: ConnectionSettings, ctx: ConnectorContext): Promise<string[]> {
  const http: HttpClient = ctx.http(SERVICE, { errorMessage: (body) => /"(?:detail|message)"\s*:\s*"([^"]+)"/.exec(body)?.[1] ?? undefined });
  const creds = credentials(connection);
  let authorization: Record<string, string> = {};
  if (creds) {
    const { data } = await http.json<{ token?: string }>({
      method: "POST",
      url: `${HUB}/v2/users/login`,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: creds.username, password: creds.password }),
      idempotent: true,
    });
    if (!data.token) throw new ExternalError("remote", SERVICE, "Docker Hub answered the sign-in without a token.");
    authorization = { authorization: `Bearer ${data.token}` };
  }
  const ns = namespace(connection);
  const out: string[] = [];
  let url: string | null = `${HUB}/v2/namespaces/${encodeURIComponent(ns)}/repositories?page_size=100`;
  for (let page = 0; url && page < MAX_PAGES; page++) {
    const { data }: { data: HubPage } = await http.json<HubPage>({ url, headers: { accept: "application/json", ...authorization } });
    out.push(...(data.results ?? []).map((r) => `${r.namespace ?? ns}/${r.name}`));
    url = data.next && new URL(data.next).origin === HUB ? data.next : null;
  }
  return out;
}

interface HubPage {
  next?: string | null;
  results?: { name: string; namespace?: string }[];
}

function session(connection: ConnectionSettings, ctx: ConnectorContext) {
  const client = createRegistryClient(ctx, REGISTRY, credentials(connection), [DOCKER_HUB_TOKEN_SERVICE]);
  return { client, session: registrySession(client, configuredRepositories(connection), () => repositories(connection, ctx)) };
}

export const dockerHub: Connector = {
  multiInstance: true,
  card: {
    kind: "docker-hub",
    name: "Docker Hub",
    category: "container-registries",
    summary: "Images in your Docker Hub organisation.",
    overview: {
      description:
        "Images in your Docker Hub organization or account. Patchbay lists its repositories and tags, resolves digests, and links each image to its source repository through the org.opencontainers.image.source label.",
      benefits: [
        "An inventory of your images and tags",
        "Container findings attached to the right image",
        "Images no longer present marked gone, their findings resolved",
      ],
      requirements: ["The organization or user name", "For private repositories: a user name and a personal or organization access token with read access"],
      docs: [{ label: "Docker: Personal access tokens", url: "https://docs.docker.com/security/for-developers/access-tokens/" }],
    },
  },
  fields: [
    {
      name: "namespace",
      label: "Organization or user",
      type: "text",
      required: true,
      glance: true,
      example: "acme",
      validate: (v) => (/^[a-z0-9][a-z0-9_-]*$/i.test(v) ? undefined : "Enter the Docker Hub organization or user name, like acme."),
    },
    {
      name: "username",
      label: "User name",
      type: "text",
      editableWhenConnected: true,
      help: "For private repositories: your Docker ID, or the organization name for an organization access token.",
    },
    {
      name: "token",
      label: "Access token",
      type: "secret",
      editableWhenConnected: true,
      help: "A personal or organization access token with read-only access.",
    },
    { ...REPOSITORIES_FIELD, example: "acme/api, acme/web", help: "Leave empty to list every repository of the organization." },
  ],
  defaultName: (settings) => `Docker Hub ${String(settings.namespace ?? "")}`.trim(),
  test: (connection, ctx) => {
    const { client, session: s } = session(connection, ctx);
    return testRegistry(client, s);
  },
  troubleshoot: registryTroubleshoot,
  registry: { host: () => "docker.io", intervalHours: 6, session: (connection, ctx) => session(connection, ctx).session },
};
