// The connector catalogue: every connector kind Patchbay has. Adding a service: one folder, one line here.
import { guardConnector } from "./guard.js";
import type { Connector, CategoryId } from "./types.js";
import { CATEGORIES } from "./types.js";
import { bitbucket } from "./bitbucket/index.js";
import { github } from "./github/index.js";
import { gitlab } from "./gitlab/index.js";
import { githubIssues } from "./github-issues/index.js";
import { gitlabIssues } from "./gitlab-issues/index.js";
import { azureDevOps } from "./azure-devops/index.js";
import { serviceNow } from "./servicenow/index.js";
import { slack } from "./slack/index.js";
import { teams } from "./teams/index.js";
import { email } from "./email/index.js";
import { webhook } from "./webhook/index.js";
import { ociRegistry } from "./oci-registry/index.js";
import { ghcr } from "./ghcr/index.js";
import { dockerHub } from "./docker-hub/index.js";
import { acr } from "./acr/index.js";
import { ecr } from "./ecr/index.js";
import { gar } from "./gar/index.js";
import { dependencyMonitor } from "./osv/index.js";
import { ciUpload } from "./ci-upload/index.js";
import { githubDependabot } from "./github-dependabot/index.js";
import { gitlabVulnerabilities } from "./gitlab-vulnerabilities/index.js";
import { npmRegistry } from "./npm-registry/index.js";
import { pypi } from "./pypi/index.js";
import { maven } from "./maven/index.js";
import { goProxy } from "./go-proxy/index.js";
import { jira, jiraDataCenter } from "./jira/index.js";
import { wiz } from "./wiz/index.js";

const implemented: Connector[] = [
  github,
  gitlab,
  bitbucket,
  wiz,
  githubDependabot,
  gitlabVulnerabilities,
  ciUpload,
  jira,
  jiraDataCenter,
  githubIssues,
  gitlabIssues,
  azureDevOps,
  serviceNow,
  slack,
  teams,
  email,
  webhook,
  ociRegistry,
  dockerHub,
  ghcr,
  ecr,
  gar,
  acr,
  dependencyMonitor,
  npmRegistry,
  pypi,
  maven,
  goProxy,
];

export class ConnectorCatalogue {
  readonly #byKind = new Map<string, Connector>();

  constructor(connectors: Connector[]) {
    for (const connector of connectors) {
      if (this.#byKind.has(connector.card.kind)) throw new Error(`Duplicate connector kind "${connector.card.kind}".`);
      this.#byKind.set(connector.card.kind, guardConnector(connector));
    }
  }

  get(kind: string): Connector | undefined {
    return this.#byKind.get(kind);
  }

  all(): Connector[] {
    return [...this.#byKind.values()];
  }

  /**
   * Why a routed channel is no channel any notifier could post to, or undefined: a channel is
   * fine when one notifier that names channels accepts it (or none names channels).
   */
  channelProblem(channel: string): string | undefined {
    const checks = this.all().flatMap((c) => (c.notifier?.channelProblem ? [c.notifier.channelProblem] : []));
    const problems = checks.map((check) => check(channel));
    return problems.some((p) => p === undefined) ? undefined : problems[0];
  }

  byCategory(): { category: (typeof CATEGORIES)[number]; connectors: Connector[] }[] {
    return CATEGORIES.map((category) => ({
      category,
      connectors: this.all().filter((c) => c.card.category === (category.id as CategoryId)),
    }));
  }
}

export function defaultCatalogue(): ConnectorCatalogue {
  return new ConnectorCatalogue(implemented);
}
