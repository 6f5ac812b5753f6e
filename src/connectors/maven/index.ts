// Maven repositories (Maven Central, Sonatype Nexus, JFrog Artifactory, GitLab, GitHub
// Packages): the artifacts of the organisation's group IDs, read the way Maven itself reads a
// repository — maven-metadata.xml per artifact — with the artifacts of a group found in the
// repository's directory listing (Nexus, Artifactory and Central all serve one) or named.
import { ExternalError, type HttpClient } from "../../http.js";
import { orderVersions } from "../../vuln/versions/index.js";
import { USERNAME_FIELD, address, addressField, authorization, names, packageTroubleshoot } from "../package-registry.js";
import type { Connector, ConnectionSettings, ConnectorContext, PublishedPackage } from "../types.js";

const SERVICE = "Maven repository";
const DEFAULT_URL = "https://repo.maven.apache.org/maven2";
const GROUP = /^[A-Za-z0-9_.-]+$/;
const MAX_ARTIFACTS = 1000;

function decodeXml(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

/** The contents of each `<tag>…</tag>` in the text, in order (not nested; found with indexOf). */
function elementTexts(xml: string, tag: string): string[] {
  const out: string[] = [];
  for (let open = xml.indexOf(`<${tag}>`); open >= 0;) {
    const close = xml.indexOf(`</${tag}>`, open);
    if (close < 0) break;
    out.push(xml.slice(open + tag.length + 2, close));
    open = xml.indexOf(`<${tag}>`, close);
  }
  return out;
}

/** The versions and latest release in a maven-metadata.xml. */
export function parseMavenMetadata(xml: string): { versions: string[]; release: string | null } {
  const versioning = elementTexts(xml, "versioning")[0];
  if (!versioning && !/<metadata[\s>]/.test(xml))
    throw new ExternalError("remote", SERVICE, "The repository answered maven-metadata.xml with something that is not Maven metadata.");
  const versions = elementTexts(versioning ?? "", "version")
    .map((v) => decodeXml(v.trim()))
    .filter(Boolean);
  const release = elementTexts(versioning ?? "", "release")[0]?.trim() || null;
  return { versions, release };
}

/** Subdirectory names in an HTML directory listing ("name/" links, parents and files left out). */
export function listedDirectories(html: string): string[] {
  const out = new Set<string>();
  for (const m of html.matchAll(/<a\s[^<>]*>/gi)) {
    const at = m[0].toLowerCase().indexOf('href="');
    const end = at < 0 ? -1 : m[0].indexOf('"', at + 6);
    if (end < 0) continue;
    const href = decodeXml(m[0].slice(at + 6, end));
    if (!href.endsWith("/") || href.startsWith("../") || href === "/" || href.includes("?")) continue;
    let name: string;
    try {
      name = decodeURIComponent(href.slice(0, -1).split("/").at(-1)!);
    } catch {
      continue;
    }
    if (name && name !== ".." && /^[A-Za-z0-9_.-]+$/.test(name)) out.add(name);
  }
  return [...out];
}

class MavenRepository {
  readonly #http: HttpClient;
  readonly #headers: Record<string, string>;
  constructor(
    readonly base: string,
    connection: ConnectionSettings,
    ctx: ConnectorContext,
  ) {
    this.#http = ctx.http(SERVICE);
    this.#headers = { "user-agent": "Patchbay", ...authorization(connection) };
  }

  async #text(path: string, accept: string): Promise<string> {
    return (await this.#http.request({ url: `${this.base}/${path}`, headers: { ...this.#headers, accept }, large: true })).text;
  }

  /** A group's artifacts, from the repository's directory listing of the group's path. */
  async artifacts(group: string): Promise<string[]> {
    const html = await this.#text(`${group.replace(/\./g, "/")}/`, "text/html");
    // A directory holding maven-metadata.xml is an artifact (or its versions), not a group.
    return listedDirectories(html).slice(0, MAX_ARTIFACTS);
  }

  async artifact(group: string, artifact: string): Promise<PublishedPackage | undefined> {
    let xml: string;
    try {
      xml = await this.#text(`${group.replace(/\./g, "/")}/${artifact}/maven-metadata.xml`, "application/xml, text/xml");
    } catch (err) {
      // A subdirectory without metadata is a nested group, not an artifact.
      if (err instanceof ExternalError && err.kind === "not_found") return undefined;
      throw err;
    }
    const meta = parseMavenMetadata(xml);
    const ordered = orderVersions("Maven", meta.versions);
    return { name: `${group}:${artifact}`, versions: ordered.versions, latest: meta.release ?? ordered.latest };
  }
}

function groups(connection: ConnectionSettings): string[] {
  const list = names(connection, "groupIds");
  const bad = list.find((g) => !GROUP.test(g));
  if (!list.length || bad) throw new ExternalError("invalid_input", SERVICE, bad ? `"${bad}" is not a group ID.` : "Enter your group IDs, like com.acme.");
  return list;
}

function repository(connection: ConnectionSettings, ctx: ConnectorContext) {
  return new MavenRepository(address(connection, "repositoryUrl", DEFAULT_URL, SERVICE), connection, ctx);
}

async function list(connection: ConnectionSettings, ctx: ConnectorContext): Promise<PublishedPackage[]> {
  const repo = repository(connection, ctx);
  const named = names(connection, "artifactIds");
  const out: PublishedPackage[] = [];
  for (const group of groups(connection)) {
    let artifacts = named;
    if (!artifacts.length) {
      try {
        artifacts = await repo.artifacts(group);
      } catch (err) {
        if (err instanceof ExternalError && err.kind === "not_found") {
          throw new ExternalError(
            "not_found",
            SERVICE,
            `The repository has no directory listing for ${group}: check the group ID, or name the artifacts in Artifact IDs.`,
            { status: 404 },
          );
        }
        throw err;
      }
    }
    for (const artifact of artifacts) {
      const pkg = await repo.artifact(group, artifact);
      if (pkg) out.push(pkg);
    }
  }
  return out;
}

export const maven: Connector = {
  multiInstance: true,
  card: {
    kind: "maven",
    name: "Maven",
    category: "package-registries",
    summary: "Your artifacts in Maven Central, Nexus or Artifactory.",
    overview: {
      description:
        "The artifacts of your group IDs in a Maven repository (Maven Central, Sonatype Nexus, JFrog Artifactory, GitLab or GitHub Packages), with their versions from maven-metadata.xml. The Packages page shows which version each repository's pom.xml declares, and the dependency monitor keeps your own artifacts to itself.",
      benefits: [
        "An inventory of the artifacts you publish",
        "Which repositories depend on an outdated version of your own artifact",
        "Your private coordinates never sent to a public database",
      ],
      requirements: [
        "The repository URL (as settings.xml or the pom's <repositories> names it)",
        "Your group IDs",
        "For a private repository: a user name and password or token",
      ],
      docs: [
        { label: "Maven: Repository metadata", url: "https://maven.apache.org/repositories/metadata.html" },
        { label: "Nexus: Maven repositories", url: "https://help.sonatype.com/en/maven-repositories.html" },
      ],
    },
  },
  fields: [
    addressField(
      "repositoryUrl",
      "Repository URL",
      DEFAULT_URL,
      "Leave empty for Maven Central; a private repository like https://nexus.example.com/repository/maven-releases.",
    ),
    {
      name: "groupIds",
      label: "Group IDs",
      type: "text",
      required: true,
      glance: true,
      editableWhenConnected: true,
      example: "com.acme",
      help: "Separated by commas.",
    },
    {
      name: "artifactIds",
      label: "Artifact IDs",
      type: "text",
      editableWhenConnected: true,
      maxLength: 4000,
      help: "Leave empty to list the group's artifacts from the repository's directory listing; name them where the repository has none.",
    },
    USERNAME_FIELD,
    { name: "password", label: "Password or token", type: "secret", editableWhenConnected: true },
  ],
  defaultName: (settings) => `Maven ${String(settings.groupIds ?? "").split(/[\s,]+/)[0] ?? ""}`.trim(),
  async test(connection, ctx) {
    const found = await list(connection, ctx);
    const repo = repository(connection, ctx);
    return {
      message: `Connected to ${new URL(repo.base).host}: ${found.length} artifact${found.length === 1 ? "" : "s"} in ${groups(connection).join(", ")}.`,
      details: found.length
        ? [
            found
              .slice(0, 3)
              .map((p) => `${p.name} ${p.latest ?? ""}`.trim())
              .join(", ") + (found.length > 3 ? ", …" : ""),
          ]
        : ["No artifacts found: check the group IDs."],
    };
  },
  troubleshoot: packageTroubleshoot("the Maven repository"),
  packages: { ecosystem: "Maven", intervalHours: 6, list },
};
