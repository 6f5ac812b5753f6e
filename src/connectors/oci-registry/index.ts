// Any registry that speaks the OCI Distribution API (Harbor, Zot, GitLab's and Gitea's
// registries, a plain "registry:2"): its address, optional credentials, and the repositories to
// list where the registry does not allow the catalog. Images are resolved to their manifest
// digest, and their config labels read (org.opencontainers.image.source names the source).
import { ExternalError } from "../../http.js";
import type { Connector, ConnectionSettings, ConnectorContext, RegistryImage, RegistrySession, SettingField } from "../types.js";
import { MANIFEST_TYPES, RegistryClient, SERVICE, digestOf, nextLink } from "./client.js";
import { httpsOrigin } from "../origin.js";
import { withoutTrailingSlash } from "../../text.js";

const MAX_PAGES = 50;
const MAX_TAGS = 200;

interface Manifest {
  mediaType?: string;
  manifests?: { digest: string; mediaType?: string; platform?: { os?: string; architecture?: string } }[];
  config?: { digest: string };
}

function registryUrl(value: string): string | undefined {
  const trimmed = withoutTrailingSlash(value.trim());
  return httpsOrigin(trimmed);
}

/** `tokenServices`: https origins other than the registry's that may receive the credentials. */
export function createRegistryClient(
  ctx: ConnectorContext,
  base: string,
  credentials: { username: string; password: string } | undefined,
  tokenServices: string[] = [],
): RegistryClient {
  return new RegistryClient(ctx.http(SERVICE), base, credentials, tokenServices);
}

/** The token service the user confirmed for this registry, if any. */
function confirmedTokenService(connection: ConnectionSettings): string[] {
  const value = httpsOrigin(String(connection.settings.tokenService ?? "").trim());
  return value ? [value] : [];
}

function ownCredentials(connection: ConnectionSettings): { username: string; password: string } | undefined {
  const username = String(connection.settings.username ?? "");
  const password = connection.secrets.password ?? "";
  return username || password ? { username, password } : undefined;
}

/**
 * A registry session over a client: configured repositories, else the service's own listing
 * (`list`), else the catalog; tags; images.
 */
export function registrySession(client: RegistryClient, configured: string[], list?: () => Promise<string[]>): RegistrySession {
  return {
    async repositories() {
      if (configured.length) return configured;
      if (list) return list();
      const out: string[] = [];
      let path: string | null = "/v2/_catalog?n=100";
      for (let page = 0; path && page < MAX_PAGES; page++) {
        let response;
        try {
          response = await client.get(path, "registry:catalog:*");
        } catch (err) {
          if (err instanceof ExternalError && (err.status === 401 || err.status === 403 || err.status === 404)) {
            throw new ExternalError(
              "permission",
              SERVICE,
              "The registry does not let these credentials list its catalog (/v2/_catalog). Enter the repositories to list in Repositories.",
              { status: err.status },
            );
          }
          throw err;
        }
        const listed = response.json<{ repositories?: unknown }>().repositories;
        if (!Array.isArray(listed))
          throw new ExternalError(
            "remote",
            SERVICE,
            "The registry answered /v2/_catalog without a list of repositories; check that the address is the registry's own.",
          );
        out.push(...listed.filter((r): r is string => typeof r === "string"));
        path = nextLink(client.base, response.headers.get("link"));
      }
      return out;
    },
    async tags(repository) {
      const out: string[] = [];
      let path: string | null = `/v2/${repository}/tags/list?n=100`;
      for (let page = 0; path && page < MAX_PAGES && out.length < MAX_TAGS; page++) {
        const response = await client.get(path, `repository:${repository}:pull`);
        out.push(...(response.json<{ tags?: string[] | null }>().tags ?? []));
        path = nextLink(client.base, response.headers.get("link"));
      }
      return out.slice(0, MAX_TAGS);
    },
    async image(repository, tag): Promise<RegistryImage> {
      const scope = `repository:${repository}:pull`;
      const top = await client.get(`/v2/${repository}/manifests/${encodeURIComponent(tag)}`, scope, MANIFEST_TYPES);
      const digest = digestOf(top);
      let manifest = top.json<Manifest>();
      if (manifest.manifests) {
        // An index: the labels come from the linux/amd64 image (or the first one).
        const pick = manifest.manifests.find((m) => m.platform?.os === "linux" && m.platform.architecture === "amd64") ?? manifest.manifests[0];
        if (!pick) return { repository, tag, digest, labels: {}, created: null };
        manifest = (await client.get(`/v2/${repository}/manifests/${pick.digest}`, scope, MANIFEST_TYPES)).json<Manifest>();
      }
      if (!manifest.config?.digest) return { repository, tag, digest, labels: {}, created: null };
      const config = (await client.get(`/v2/${repository}/blobs/${manifest.config.digest}`, scope)).json<{
        created?: string;
        config?: { Labels?: Record<string, string> | null };
      }>();
      return { repository, tag, digest, labels: config.config?.Labels ?? {}, created: config.created ?? null };
    },
  };
}

/** Test Connection for any registry: /v2/ answers and accepts the credentials, and repositories list. */
export async function testRegistry(client: RegistryClient, session: RegistrySession) {
  await client.probe();
  const repositories = await session.repositories();
  return {
    message: `Connected to ${new URL(client.base).host}: the registry answered /v2/ and accepted the credentials.`,
    details: [
      `${repositories.length} repositor${repositories.length === 1 ? "y" : "ies"}${repositories.length ? `: ${repositories.slice(0, 3).join(", ")}${repositories.length > 3 ? ", …" : ""}` : ""}`,
    ],
  };
}

export function configuredRepositories(connection: ConnectionSettings): string[] {
  return String(connection.settings.repositories ?? "")
    .split(/[\s,]+/)
    .map((r) => r.trim())
    .filter(Boolean);
}

function base(connection: ConnectionSettings): string {
  const url = registryUrl(String(connection.settings.registryUrl ?? ""));
  if (!url) throw new ExternalError("invalid_input", SERVICE, "The registry URL is not valid: use https://registry.example.com.");
  return url;
}

/** The repositories to list where the registry's own listing is not used. */
export const REPOSITORIES_FIELD: SettingField = {
  name: "repositories",
  label: "Repositories",
  type: "text",
  editableWhenConnected: true,
  maxLength: 4000,
  example: "team/api, team/web",
};

export function registryTroubleshoot(error: ExternalError) {
  if (error.kind === "auth")
    return {
      title: "Connection Failed — the registry refused the credentials",
      steps: [
        "Check the user name and password or token; many registries want a token with pull (read) scope.",
        "For Harbor robot accounts, the user name includes the robot$ prefix.",
      ],
    };
  if (error.kind === "unreachable")
    return {
      title: "Connection Failed — registry unreachable",
      steps: ["Check the address: Patchbay calls <registry>/v2/.", "Check that the registry's TLS certificate is trusted by this machine."],
    };
  if (error.kind === "permission") return { title: "Connection Failed — missing access", steps: [error.message] };
  return undefined;
}

export const ociRegistry: Connector = {
  multiInstance: true,
  card: {
    kind: "oci-registry",
    name: "OCI registry",
    category: "container-registries",
    summary: "Any registry that speaks the OCI Distribution API: Harbor, Zot, GitLab's or Gitea's registry.",
    overview: {
      description:
        "Any registry that speaks the OCI Distribution API. Patchbay lists repositories and tags, resolves digests, and links each image to its source repository through the org.opencontainers.image.source label, so container findings land on the right image and team.",
      benefits: [
        "An inventory of your images and tags",
        "Container findings attached to the right image",
        "Images no longer present marked gone, their findings resolved",
      ],
      requirements: ["The registry's address", "Credentials that can pull (and list the catalog, or the repositories named below)"],
      docs: [{ label: "OCI Distribution Specification", url: "https://github.com/opencontainers/distribution-spec/blob/main/spec.md" }],
    },
  },
  fields: [
    {
      name: "registryUrl",
      label: "Registry URL",
      type: "url",
      required: true,
      glance: true,
      example: "https://registry.example.com",
      validate: (v) => (registryUrl(v) ? undefined : "Enter the registry's https address, like https://registry.example.com (no path)."),
    },
    { name: "username", label: "User name", type: "text", editableWhenConnected: true, help: "Leave empty for a registry that allows anonymous pulls." },
    { name: "password", label: "Password or token", type: "secret", editableWhenConnected: true },
    {
      name: "tokenService",
      label: "Token service",
      type: "url",
      editableWhenConnected: true,
      example: "https://gitlab.com",
      help: "Only where the registry signs in through another host: its https address, as Test names it. The credentials are sent to the registry and this host only.",
      validate: (v) => (httpsOrigin(v.trim()) ? undefined : "Enter the token service's https address, without a path."),
    },
    { ...REPOSITORIES_FIELD, help: "The repositories to list, separated by commas. Leave empty to list the registry's whole catalog (/v2/_catalog)." },
  ],
  defaultName: (settings) => {
    const url = registryUrl(String(settings.registryUrl ?? ""));
    return url ? `Registry ${new URL(url).host}` : "OCI registry";
  },
  async test(connection, ctx) {
    const client = createRegistryClient(ctx, base(connection), ownCredentials(connection), confirmedTokenService(connection));
    return testRegistry(client, registrySession(client, configuredRepositories(connection)));
  },
  troubleshoot: registryTroubleshoot,
  registry: {
    host: (settings) => {
      const url = registryUrl(String(settings.registryUrl ?? ""));
      return url ? new URL(url).host : "";
    },
    intervalHours: 6,
    session: (connection, ctx) =>
      registrySession(
        createRegistryClient(ctx, base(connection), ownCredentials(connection), confirmedTokenService(connection)),
        configuredRepositories(connection),
      ),
  },
};
