// What the package registry connectors share: the address field, the list of names a person
// types, credentials as an Authorization header, and troubleshooting for listings.
import { ExternalError } from "../http.js";
import type { Advice, ConnectionSettings, SettingField } from "./types.js";
import { serviceUrl } from "./origin.js";

/** The registry's address field, with a default for the public registry. */
export function addressField(name: string, label: string, example: string, help: string): SettingField {
  return {
    name,
    label,
    type: "text",
    glance: true,
    example,
    defaultValue: example,
    help,
    validate: (v) => (serviceUrl(v) ? undefined : `Enter an address like ${example} (http is allowed inside your network).`),
  };
}

export function address(connection: ConnectionSettings, field: string, fallback: string, service: string): string {
  const url = serviceUrl(String(connection.settings[field] ?? "").trim() || fallback);
  if (!url) throw new ExternalError("invalid_input", service, `The address is not valid: use an address like ${fallback}.`);
  return url;
}

/** Names typed one per line or separated by commas. */
export function names(connection: ConnectionSettings, field: string): string[] {
  return [
    ...new Set(
      String(connection.settings[field] ?? "")
        .split(/[\s,]+/)
        .map((n) => n.trim())
        .filter(Boolean),
    ),
  ];
}

/** Basic with a user name, Bearer without; nothing without a secret (public registries). */
export function authorization(connection: ConnectionSettings): Record<string, string> {
  const secret = connection.secrets.password ?? connection.secrets.token ?? "";
  if (!secret) return {};
  const username = String(connection.settings.username ?? "");
  return { authorization: username ? `Basic ${Buffer.from(`${username}:${secret}`).toString("base64")}` : `Bearer ${secret}` };
}

export function packageTroubleshoot(registry: string) {
  return (error: ExternalError): Advice | undefined => {
    if (error.kind === "auth")
      return {
        title: `Connection Failed — ${registry} refused the credentials`,
        steps: ["Check the token (or user name and password); it needs read access to the packages.", "Tokens that expired or were revoked must be replaced."],
      };
    if (error.kind === "permission") return { title: `Connection Failed — missing access`, steps: [error.message] };
    if (error.kind === "unreachable")
      return {
        title: `Connection Failed — ${registry} not found at this address`,
        steps: [
          "Check the address: it is the registry's root (or the repository's) URL, the one your package manager is configured with.",
          "Check that this machine can reach it and trusts its TLS certificate.",
        ],
      };
    return undefined;
  };
}

export const USERNAME_FIELD: SettingField = {
  name: "username",
  label: "User name",
  type: "text",
  editableWhenConnected: true,
  help: "For registries that take a user name and password (Nexus, Artifactory). Leave empty with a token.",
};
