// Google Artifact Registry: Docker repositories at <location>-docker.pkg.dev. A service
// account key signs a JWT assertion that Google's OAuth token endpoint exchanges for an
// access token; the Artifact Registry API lists the project's Docker repositories and their
// images, and the registry takes the access token as Basic credentials (user
// "oauth2accesstoken") on its token service, as `docker login` does.
import crypto from "node:crypto";
import { ExternalError, type HttpClient } from "../../http.js";
import { signRs256 } from "../jwt.js";
import {
  REPOSITORIES_FIELD,
  configuredRepositories,
  createRegistryClient,
  registrySession,
  registryTroubleshoot,
  testRegistry,
} from "../oci-registry/index.js";
import type { Connector, ConnectionSettings, ConnectorContext, SettingValues } from "../types.js";

const SERVICE = "Google Artifact Registry";
const API = "https://artifactregistry.googleapis.com/v1";
const SCOPE = "https://www.googleapis.com/auth/cloud-platform.read-only";
const LOCATION = /^[a-z]+(-[a-z]+\d*)*$/;
const PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[a-z0-9.-]+:[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const MAX_PAGES = 50;

interface ServiceAccountKey {
  type: string;
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri?: string;
}

export function serviceAccountKeyError(text: string): string | undefined {
  let key: Partial<ServiceAccountKey>;
  try {
    key = JSON.parse(text) as Partial<ServiceAccountKey>;
  } catch {
    return "Paste the whole JSON key file downloaded from the service account's Keys tab.";
  }
  if (key.type !== "service_account" || !key.client_email || !key.private_key)
    return 'This JSON is not a service account key (it needs "type": "service_account", client_email and private_key).';
  try {
    crypto.createPrivateKey(key.private_key);
  } catch {
    return "The key's private_key cannot be read; download a new key file.";
  }
  return undefined;
}

function location(settings: SettingValues): string {
  const value = String(settings.location ?? "").trim();
  if (!LOCATION.test(value)) throw new ExternalError("invalid_input", SERVICE, "The location is like us, europe or us-central1.");
  return value;
}

function project(settings: SettingValues): string {
  const value = String(settings.projectId ?? "").trim();
  if (!PROJECT.test(value)) throw new ExternalError("invalid_input", SERVICE, "The project ID is like acme-prod (lower-case letters, digits and hyphens).");
  return value;
}

function googleError(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: string; status?: string } | string; error_description?: string };
    if (typeof parsed.error === "string") return parsed.error_description ? `${parsed.error}: ${parsed.error_description}` : parsed.error;
    return parsed.error?.message ? `${parsed.error.status ? `${parsed.error.status}: ` : ""}${parsed.error.message}` : undefined;
  } catch {
    return undefined;
  }
}

const tokens = new Map<string, { token: string; expiresAt: number }>();

/** An access token for the key, from the cache while it has more than five minutes left. */
async function accessToken(http: HttpClient, key: ServiceAccountKey): Promise<string> {
  const cacheKey = `${key.client_email}:${key.private_key_id ?? ""}`;
  const cached = tokens.get(cacheKey);
  if (cached && cached.expiresAt - Date.now() > 300_000) return cached.token;
  const audience = key.token_uri ?? "https://oauth2.googleapis.com/token";
  const now = Math.floor(Date.now() / 1000);
  const assertion = signRs256(
    { iss: key.client_email, scope: SCOPE, aud: audience, iat: now, exp: now + 3600 },
    key.private_key,
    key.private_key_id ? { kid: key.private_key_id } : {},
  );
  let data: { access_token?: string; expires_in?: number };
  try {
    ({ data } = await http.json<typeof data>({
      method: "POST",
      url: audience,
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }),
      idempotent: true,
    }));
  } catch (err) {
    // invalid_grant: the key was deleted or disabled, or the clock is off.
    if (err instanceof ExternalError && (err.status === 400 || err.status === 401))
      throw new ExternalError("auth", SERVICE, `Google refused the service account key (${err.remoteMessage ?? `HTTP ${err.status}`}).`, {
        status: err.status,
        remoteMessage: err.remoteMessage,
      });
    throw err;
  }
  if (!data.access_token) throw new ExternalError("remote", SERVICE, "Google's token endpoint answered without an access token.");
  tokens.set(cacheKey, { token: data.access_token, expiresAt: Date.now() + (data.expires_in ?? 3600) * 1000 });
  return data.access_token;
}

function serviceAccount(connection: ConnectionSettings): ServiceAccountKey {
  const text = connection.secrets.serviceAccountKey ?? "";
  const problem = serviceAccountKeyError(text);
  if (problem) throw new ExternalError("invalid_input", SERVICE, problem);
  return JSON.parse(text) as ServiceAccountKey;
}

function host(settings: SettingValues): string {
  return `${location(settings)}-docker.pkg.dev`;
}

/** Image paths ("project/repository/image") from the Artifact Registry API. */
async function images(http: HttpClient, token: string, connection: ConnectionSettings): Promise<string[]> {
  const parent = `projects/${project(connection.settings)}/locations/${location(connection.settings)}`;
  const get = async <T>(path: string): Promise<T> => {
    try {
      return (await http.json<T>({ url: `${API}/${path}`, headers: { authorization: `Bearer ${token}`, accept: "application/json" } })).data;
    } catch (err) {
      if (err instanceof ExternalError && err.status === 403) {
        throw new ExternalError(
          "permission",
          SERVICE,
          `The service account may not read Artifact Registry in ${parent} (${err.remoteMessage ?? "HTTP 403"}). Grant it the Artifact Registry Reader role (roles/artifactregistry.reader).`,
          { status: 403, remoteMessage: err.remoteMessage },
        );
      }
      throw err;
    }
  };
  const named = String(connection.settings.garRepository ?? "").trim();
  const repositories: string[] = [];
  if (named) repositories.push(`${parent}/repositories/${named}`);
  else {
    let pageToken = "";
    for (let page = 0; page < MAX_PAGES; page++) {
      const data = await get<{ repositories?: { name: string; format?: string }[]; nextPageToken?: string }>(
        `${parent}/repositories?pageSize=1000${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ""}`,
      );
      repositories.push(...(data.repositories ?? []).filter((r) => r.format === "DOCKER").map((r) => r.name));
      pageToken = data.nextPageToken ?? "";
      if (!pageToken) break;
    }
  }
  const out = new Set<string>();
  const prefix = `${host(connection.settings)}/`;
  for (const repository of repositories) {
    let pageToken = "";
    for (let page = 0; page < MAX_PAGES; page++) {
      const data = await get<{ dockerImages?: { uri?: string }[]; nextPageToken?: string }>(
        `${repository}/dockerImages?pageSize=1000${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ""}`,
      );
      for (const image of data.dockerImages ?? []) {
        // uri: us-docker.pkg.dev/acme-prod/containers/api@sha256:…
        if (image.uri?.startsWith(prefix)) out.add(image.uri.slice(prefix.length).replace(/@sha256:[0-9a-f]+$/, ""));
      }
      pageToken = data.nextPageToken ?? "";
      if (!pageToken) break;
    }
  }
  return [...out].sort();
}

async function open(connection: ConnectionSettings, ctx: ConnectorContext) {
  const http = ctx.http(SERVICE, { errorMessage: googleError });
  const token = await accessToken(http, serviceAccount(connection));
  const client = createRegistryClient(ctx, `https://${host(connection.settings)}`, { username: "oauth2accesstoken", password: token });
  return { client, session: registrySession(client, configuredRepositories(connection), () => images(http, token, connection)) };
}

export const gar: Connector = {
  multiInstance: true,
  card: {
    kind: "gar",
    name: "Google Artifact Registry",
    category: "container-registries",
    summary: "Images in Google Artifact Registry.",
    overview: {
      description:
        "Images in Google Artifact Registry's Docker repositories. Patchbay signs in with a service account key, lists the project's Docker repositories and images through the Artifact Registry API, pulls manifests from <location>-docker.pkg.dev, and links each image to its source repository through the org.opencontainers.image.source label.",
      benefits: [
        "An inventory of your images and tags",
        "Container findings attached to the right image",
        "Images no longer present marked gone, their findings resolved",
      ],
      requirements: ["The project ID and the repositories' location", "A service account with the Artifact Registry Reader role, and a JSON key for it"],
      docs: [
        { label: "Artifact Registry: Authentication for Docker", url: "https://cloud.google.com/artifact-registry/docs/docker/authentication" },
        {
          label: "Artifact Registry API: dockerImages.list",
          url: "https://cloud.google.com/artifact-registry/docs/reference/rest/v1/projects.locations.repositories.dockerImages/list",
        },
      ],
    },
  },
  fields: [
    {
      name: "projectId",
      label: "Project ID",
      type: "text",
      required: true,
      glance: true,
      example: "acme-prod",
      validate: (v) => (PROJECT.test(v.trim()) ? undefined : "Enter the project ID, like acme-prod."),
    },
    {
      name: "location",
      label: "Location",
      type: "text",
      required: true,
      glance: true,
      destination: true,
      example: "us",
      validate: (v) => (LOCATION.test(v.trim()) ? undefined : "Enter the location, like us, europe or us-central1."),
    },
    {
      name: "garRepository",
      label: "Artifact Registry repository",
      type: "text",
      editableWhenConnected: true,
      example: "containers",
      help: "Leave empty to list every Docker repository in the location.",
    },
    {
      name: "serviceAccountKey",
      label: "Service account key (JSON)",
      type: "secret",
      required: true,
      multiline: true,
      maxLength: 8000,
      editableWhenConnected: true,
      validate: serviceAccountKeyError,
    },
    { ...REPOSITORIES_FIELD, help: "Image paths to list instead of asking the API (project/repository/image), separated by commas." },
  ],
  defaultName: (settings) => `Artifact Registry ${String(settings.projectId ?? "")}`.trim(),
  async test(connection, ctx) {
    const { client, session } = await open(connection, ctx);
    return testRegistry(client, session);
  },
  troubleshoot(error) {
    if (error.service === SERVICE && error.kind === "auth")
      return {
        title: "Connection Failed — Google refused the service account key",
        steps: [
          "The key may have been deleted or disabled: create a new key on the service account's Keys tab and paste it.",
          "Check that this machine's clock is right (the signed assertion is time-limited).",
        ],
      };
    return registryTroubleshoot(error);
  },
  registry: {
    host,
    intervalHours: 6,
    session: (connection, ctx) => {
      let opened: ReturnType<typeof open> | undefined;
      const lazy = () => (opened ??= open(connection, ctx));
      return {
        repositories: async () => (await lazy()).session.repositories(),
        tags: async (repository) => (await lazy()).session.tags(repository),
        image: async (repository, tag) => (await lazy()).session.image(repository, tag),
      };
    },
  },
};
