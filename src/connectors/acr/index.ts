// Azure Container Registry: <name>.azurecr.io, with a service principal (application ID and
// secret), a repository-scoped token, or the admin user — all accepted as Basic credentials by
// ACR's token service — and the catalog where the credentials may read it.
import { ExternalError } from "../../http.js";
import {
  REPOSITORIES_FIELD,
  configuredRepositories,
  createRegistryClient,
  registrySession,
  registryTroubleshoot,
  testRegistry,
} from "../oci-registry/index.js";
import type { Connector, ConnectionSettings, ConnectorContext, SettingValues } from "../types.js";

const NAME = /^[a-z0-9]{5,50}$/;

function loginServer(settings: SettingValues): string {
  const name = String(settings.registryName ?? "")
    .trim()
    .toLowerCase()
    .replace(/\.azurecr\.io$/, "");
  if (!NAME.test(name))
    throw new ExternalError("invalid_input", "Azure Container Registry", "The registry name is 5 to 50 lower-case letters and digits, like acmeregistry.");
  return `${name}.azurecr.io`;
}

function client(connection: ConnectionSettings, ctx: ConnectorContext) {
  return createRegistryClient(ctx, `https://${loginServer(connection.settings)}`, {
    username: String(connection.settings.username ?? ""),
    password: connection.secrets.password ?? "",
  });
}

export const acr: Connector = {
  multiInstance: true,
  card: {
    kind: "acr",
    name: "Azure Container Registry",
    category: "container-registries",
    summary: "Images in Azure Container Registry.",
    overview: {
      description:
        "Images in an Azure Container Registry. Patchbay lists its repositories and tags, resolves digests, and links each image to its source repository through the org.opencontainers.image.source label.",
      benefits: [
        "An inventory of your images and tags",
        "Container findings attached to the right image",
        "Images no longer present marked gone, their findings resolved",
      ],
      requirements: [
        "The registry's name",
        "A service principal with the AcrPull role (its application ID and a client secret), a token with content/read and metadata/read, or the admin user",
      ],
      docs: [
        {
          label: "Microsoft: Authenticate with an Azure container registry",
          url: "https://learn.microsoft.com/en-us/azure/container-registry/container-registry-authentication",
        },
      ],
    },
  },
  fields: [
    {
      name: "registryName",
      label: "Registry name",
      type: "text",
      required: true,
      glance: true,
      example: "acmeregistry",
      validate: (v) =>
        NAME.test(
          v
            .trim()
            .toLowerCase()
            .replace(/\.azurecr\.io$/, ""),
        )
          ? undefined
          : "Enter the registry's name (5 to 50 letters and digits) or its login server, like acmeregistry.azurecr.io.",
    },
    { name: "username", label: "Application (client) ID or token name", type: "text", required: true, editableWhenConnected: true },
    { name: "password", label: "Client secret or token password", type: "secret", required: true, editableWhenConnected: true },
    {
      ...REPOSITORIES_FIELD,
      help: "Leave empty to list the registry's catalog (the credentials need to read it); or name the repositories, separated by commas.",
    },
  ],
  defaultName: (settings) => `ACR ${String(settings.registryName ?? "").replace(/\.azurecr\.io$/i, "")}`,
  test: (connection, ctx) => {
    const registry = client(connection, ctx);
    return testRegistry(registry, registrySession(registry, configuredRepositories(connection)));
  },
  troubleshoot: registryTroubleshoot,
  registry: {
    host: (settings) => loginServer(settings),
    intervalHours: 6,
    session: (connection, ctx) => registrySession(client(connection, ctx), configuredRepositories(connection)),
  },
};
