// Wiz: the first scanner. This folder owns the connect form, the connection test and
// the troubleshooting advice from the Wiz seed.
import { ExternalError } from "../../http.js";
import type { Connector, ConnectionSettings, ConnectorContext } from "../types.js";
import { SERVICE, WizClient, parseEndpoint, wizErrorMessage } from "./client.js";
import { wizScanner } from "./scanner.js";

const CONNECTION_TEST_QUERY = `query PatchbayConnectionTest {
  vulnerabilityFindings(first: 1, filterBy: { status: [OPEN] }) {
    nodes { id }
    pageInfo { hasNextPage endCursor }
  }
}`;

export function createWizClient(connection: ConnectionSettings, ctx: ConnectorContext): WizClient {
  const endpoint = parseEndpoint(String(connection.settings.apiEndpoint ?? ""));
  if (!endpoint) throw new ExternalError("invalid_input", SERVICE, "The API Endpoint URL is not a Wiz API endpoint.");
  return new WizClient(
    ctx.http(SERVICE, { errorMessage: wizErrorMessage }),
    endpoint,
    String(connection.settings.clientId ?? ""),
    connection.secrets.clientSecret ?? "",
  );
}

export const wiz: Connector = {
  multiInstance: true,
  card: {
    kind: "wiz",
    name: "Wiz",
    category: "scanners",
    summary: "Import SCA and container image vulnerabilities from Wiz.",
    overview: {
      description:
        "Wiz is a cloud security platform that scans your software supply chain, including source code dependencies and container images. " +
        "Connecting Wiz lets Patchbay import its vulnerability findings so they can be remediated in one place.",
      benefits: [
        "Automatically import SCA vulnerabilities detected in source code repository dependencies",
        "Automatically import container image vulnerabilities detected in your container images",
        "Track vulnerabilities detected across your repositories and container images",
        "Create remediation workflows for imported vulnerabilities",
        "Maintain vulnerability detection timestamps from Wiz",
        "Centralize security vulnerabilities from multiple scanners in one place",
      ],
      requirements: [
        "A Wiz account with the Project Admin role, to create a service account",
        "A Wiz service account of type Custom Integration (GraphQL API) with the Read vulnerabilities scope (read:vulnerabilities)",
        "The API Endpoint URL from Wiz: User Settings → Tenant, e.g. https://api.<region>.app.wiz.io/",
        "A connected source control integration (GitHub, GitLab or Bitbucket) for SCA findings",
      ],
      docs: [
        { label: "Wiz: Service accounts", url: "https://docs.wiz.io/wiz-docs/docs/service-accounts-settings" },
        { label: "Wiz: Using the Wiz API", url: "https://docs.wiz.io/wiz-docs/docs/using-the-wiz-api" },
      ],
    },
  },
  fields: [
    {
      name: "apiEndpoint",
      label: "API Endpoint URL",
      type: "url",
      required: true,
      example: "https://api.us1.app.wiz.io/",
      help: "Copy it from Wiz: User Profile → User Settings → Tenant.",
      maxLength: 200,
      glance: true,
      validate: (value) =>
        parseEndpoint(value)
          ? undefined
          : "Enter the API Endpoint URL shown in Wiz under User Settings → Tenant; it looks like https://api.<region>.app.wiz.io/ (Wiz for Government: https://api.<region>.gov.wiz.io/).",
    },
    { name: "clientId", label: "Client ID", type: "text", required: true, maxLength: 200, editableWhenConnected: true, help: "From the Wiz service account." },
    {
      name: "clientSecret",
      label: "Client Secret",
      type: "secret",
      required: true,
      maxLength: 500,
      editableWhenConnected: true,
      help: "Wiz shows it only once, when the service account is created.",
    },
    {
      name: "scanSca",
      label: "Scan SCA Vulnerabilities",
      type: "checkbox",
      defaultChecked: true,
      editableWhenConnected: true,
      glance: true,
      help: "Import vulnerabilities detected in source code repository dependencies.",
    },
    {
      name: "scanContainerImages",
      label: "Scan Container Image Vulnerabilities",
      type: "checkbox",
      defaultChecked: true,
      editableWhenConnected: true,
      glance: true,
      help: "Import vulnerabilities detected in container images.",
    },
  ],

  async test(connection, ctx) {
    const client = createWizClient(connection, ctx);
    await client.token();
    const data = await client.graphql<{ vulnerabilityFindings?: { nodes?: unknown[] } }>(CONNECTION_TEST_QUERY);
    if (!data.vulnerabilityFindings) throw new ExternalError("remote", SERVICE, "Wiz answered the test query without vulnerability findings.");
    const endpoint = parseEndpoint(String(connection.settings.apiEndpoint))!;
    return {
      message: "Connected to Wiz: the credentials were accepted and the API endpoint answered.",
      details: [`Data center: ${endpoint.dataCenter}`, "Scope read:vulnerabilities: granted"],
    };
  },

  troubleshoot(error) {
    if (error.kind === "auth") {
      return {
        title: "Connection Failed — Authentication Error",
        steps: [
          "Verify your Client ID and Client Secret are correct.",
          "Confirm the service account has not been deleted or disabled in Wiz.",
          "Ensure the credentials were copied correctly (the Client Secret is only shown once).",
        ],
      };
    }
    if (error.kind === "unreachable" || error.kind === "permission" || error.kind === "not_found") {
      return {
        title: "Connection Failed — API Endpoint Error",
        steps: [
          "Check that the API Endpoint URL matches the value shown in your Wiz Tenant Info.",
          "Ensure the service account has the Read vulnerabilities API scope enabled.",
          "Verify the region in the URL is correct for your Wiz tenant.",
        ],
      };
    }
    return undefined;
  },

  defaultName(settings) {
    const endpoint = parseEndpoint(String(settings.apiEndpoint ?? ""));
    return endpoint ? `Wiz ${endpoint.dataCenter}` : "Wiz";
  },

  scanner: wizScanner(createWizClient),
};
