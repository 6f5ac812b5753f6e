// Amazon ECR: a private registry <account>.dkr.ecr.<region>.amazonaws.com. Patchbay signs
// (SigV4) calls to ECR's API with an IAM access key — DescribeRepositories for the list,
// GetAuthorizationToken for a 12-hour registry password — and pulls manifests with it as Basic
// credentials (user "AWS"), as `docker login` does.
import { ExternalError, type HttpClient } from "../../http.js";
import {
  REPOSITORIES_FIELD,
  configuredRepositories,
  createRegistryClient,
  registrySession,
  registryTroubleshoot,
  testRegistry,
} from "../oci-registry/index.js";
import type { Connector, ConnectionSettings, ConnectorContext, SettingValues } from "../types.js";
import { type AwsCredentials, signedHeaders } from "./sigv4.js";

const SERVICE = "Amazon ECR";
const TARGET = "AmazonEC2ContainerRegistry_V20150921";
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const ACCOUNT = /^\d{12}$/;
const MAX_PAGES = 50;

function region(settings: SettingValues): string {
  const value = String(settings.region ?? "").trim();
  if (!REGION.test(value)) throw new ExternalError("invalid_input", SERVICE, "The region is like us-east-1.");
  return value;
}

function account(settings: SettingValues): string {
  const value = String(settings.accountId ?? "").trim();
  if (!ACCOUNT.test(value)) throw new ExternalError("invalid_input", SERVICE, "The AWS account ID is 12 digits.");
  return value;
}

function registryHost(settings: SettingValues): string {
  return `${account(settings)}.dkr.ecr.${region(settings)}.amazonaws.com`;
}

/** ECR's JSON errors: {"__type": "…Exception", "message": "…"}, classified for the card. */
function ecrError(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { __type?: string; message?: string; Message?: string };
    const type = parsed.__type?.split("#").at(-1);
    const message = parsed.message ?? parsed.Message;
    return type ? `${type}${message ? `: ${message}` : ""}` : message;
  } catch {
    return undefined;
  }
}

const AUTH_ERRORS =
  /UnrecognizedClientException|InvalidSignatureException|InvalidClientTokenId|ExpiredTokenException|IncompleteSignature|MissingAuthenticationToken/;

class EcrApi {
  readonly #http: HttpClient;
  readonly host: string;
  constructor(
    private readonly region: string,
    private readonly credentials: AwsCredentials,
    ctx: ConnectorContext,
  ) {
    this.#http = ctx.http(SERVICE, { errorMessage: ecrError });
    this.host = `api.ecr.${region}.amazonaws.com`;
  }

  async call<T>(action: string, payload: Record<string, unknown>): Promise<T> {
    const body = JSON.stringify(payload);
    const headers = signedHeaders(
      {
        host: this.host,
        region: this.region,
        service: "ecr",
        body,
        headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": `${TARGET}.${action}` },
        now: new Date(),
      },
      this.credentials,
    );
    try {
      // Reads only: safe to send twice (each attempt is signed anew with its own date).
      return (await this.#http.json<T>({ method: "POST", url: `https://${this.host}/`, headers, body, idempotent: true })).data;
    } catch (err) {
      if (!(err instanceof ExternalError) || (err.status !== 400 && err.status !== 403)) throw err;
      // The JSON protocol answers 400 for most faults: the type says which.
      const said = err.remoteMessage ?? "";
      if (AUTH_ERRORS.test(said)) throw new ExternalError("auth", SERVICE, `AWS refused the access key (${said}).`, { status: 400, remoteMessage: said });
      if (/AccessDeniedException/.test(said))
        throw new ExternalError(
          "permission",
          SERVICE,
          `The IAM user or role may not call ecr:${action} (${said}). Attach the AmazonEC2ContainerRegistryReadOnly policy, or allow ecr:GetAuthorizationToken, ecr:DescribeRepositories, ecr:ListImages, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer.`,
          { status: 400, remoteMessage: said },
        );
      if (/RepositoryNotFoundException|RegistryNotFoundException/.test(said))
        throw new ExternalError("not_found", SERVICE, said, { status: 400, remoteMessage: said });
      if (/ThrottlingException/.test(said))
        throw new ExternalError("rate_limited", SERVICE, "AWS is throttling ECR API calls; the sync retries later.", { status: 400, remoteMessage: said });
      throw err;
    }
  }
}

function api(connection: ConnectionSettings, ctx: ConnectorContext): EcrApi {
  const accessKeyId = String(connection.settings.accessKeyId ?? "").trim();
  const secretAccessKey = connection.secrets.secretAccessKey ?? "";
  if (!accessKeyId || !secretAccessKey) throw new ExternalError("invalid_input", SERVICE, "Enter the access key ID and secret access key.");
  return new EcrApi(region(connection.settings), { accessKeyId, secretAccessKey, sessionToken: connection.secrets.sessionToken || undefined }, ctx);
}

async function repositories(connection: ConnectionSettings, ctx: ConnectorContext): Promise<string[]> {
  const ecr = api(connection, ctx);
  const out: string[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const data = await ecr.call<{ repositories?: { repositoryName?: string }[]; nextToken?: string }>("DescribeRepositories", {
      registryId: account(connection.settings),
      maxResults: 1000,
      ...(nextToken ? { nextToken } : {}),
    });
    out.push(...(data.repositories ?? []).map((r) => r.repositoryName ?? "").filter(Boolean));
    nextToken = data.nextToken;
    if (!nextToken) break;
  }
  return out.sort();
}

/** The registry password from GetAuthorizationToken ("AWS:<password>", base64). */
async function registryCredentials(connection: ConnectionSettings, ctx: ConnectorContext): Promise<{ username: string; password: string }> {
  const data = await api(connection, ctx).call<{ authorizationData?: { authorizationToken?: string; proxyEndpoint?: string }[] }>("GetAuthorizationToken", {
    registryIds: [account(connection.settings)],
  });
  const token = data.authorizationData?.[0]?.authorizationToken;
  const decoded = token ? Buffer.from(token, "base64").toString("utf8") : "";
  const colon = decoded.indexOf(":");
  if (colon < 0) throw new ExternalError("remote", SERVICE, "ECR answered GetAuthorizationToken without a usable token.");
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

async function session(connection: ConnectionSettings, ctx: ConnectorContext) {
  const client = createRegistryClient(ctx, `https://${registryHost(connection.settings)}`, await registryCredentials(connection, ctx));
  return { client, session: registrySession(client, configuredRepositories(connection), () => repositories(connection, ctx)) };
}

export const ecr: Connector = {
  multiInstance: true,
  card: {
    kind: "ecr",
    name: "Amazon ECR",
    category: "container-registries",
    summary: "Images in Amazon Elastic Container Registry.",
    overview: {
      description:
        "Images in a private Amazon ECR registry. Patchbay lists its repositories with DescribeRepositories, pulls manifests with a registry token from GetAuthorizationToken (renewed each sync), and links each image to its source repository through the org.opencontainers.image.source label.",
      benefits: [
        "An inventory of your images and tags",
        "Container findings attached to the right image",
        "Images no longer present marked gone, their findings resolved",
      ],
      requirements: [
        "The AWS account ID and region",
        "An IAM access key whose policy allows AmazonEC2ContainerRegistryReadOnly (or ecr:GetAuthorizationToken, ecr:DescribeRepositories, ecr:ListImages, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer)",
      ],
      docs: [
        { label: "Amazon ECR private registry authentication", url: "https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry_auth.html" },
        { label: "Amazon ECR identity-based policies", url: "https://docs.aws.amazon.com/AmazonECR/latest/userguide/security-iam-awsmanpol.html" },
      ],
    },
  },
  fields: [
    {
      name: "accountId",
      label: "AWS account ID",
      type: "text",
      required: true,
      glance: true,
      example: "123456789012",
      validate: (v) => (ACCOUNT.test(v.trim()) ? undefined : "Enter the 12-digit AWS account ID."),
    },
    {
      name: "region",
      label: "Region",
      type: "text",
      required: true,
      glance: true,
      destination: true,
      example: "us-east-1",
      validate: (v) => (REGION.test(v.trim()) ? undefined : "Enter the region, like us-east-1."),
    },
    { name: "accessKeyId", label: "Access key ID", type: "text", required: true, editableWhenConnected: true, example: "AKIAIOSFODNN7EXAMPLE" },
    { name: "secretAccessKey", label: "Secret access key", type: "secret", required: true, editableWhenConnected: true },
    {
      name: "sessionToken",
      label: "Session token",
      type: "secret",
      editableWhenConnected: true,
      help: "Only for temporary credentials (they expire; prefer an IAM user's access key for a long-running connection).",
    },
    { ...REPOSITORIES_FIELD, help: "Leave empty to list every repository (DescribeRepositories); or name the repositories, separated by commas." },
  ],
  defaultName: (settings) => `ECR ${String(settings.accountId ?? "")} ${String(settings.region ?? "")}`.trim(),
  async test(connection, ctx) {
    const { client, session: registry } = await session(connection, ctx);
    return testRegistry(client, registry);
  },
  troubleshoot(error) {
    if (error.service === SERVICE && error.kind === "auth")
      return {
        title: "Connection Failed — AWS refused the access key",
        steps: [
          "Check the access key ID and secret access key (and the session token for temporary credentials).",
          "Check that the key is active in IAM and the machine's clock is right (signatures are time-limited).",
        ],
      };
    return registryTroubleshoot(error);
  },
  registry: {
    host: registryHost,
    intervalHours: 6,
    session: (connection, ctx) => {
      // The registry password is fetched when the sync first needs it.
      let opened: ReturnType<typeof session> | undefined;
      const open = () => (opened ??= session(connection, ctx));
      return {
        repositories: async () => (await open()).session.repositories(),
        tags: async (repository) => (await open()).session.tags(repository),
        image: async (repository, tag) => (await open()).session.image(repository, tag),
      };
    },
  },
};
