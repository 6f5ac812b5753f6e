import { describe, expect, it } from "vitest";
import { defaultCatalogue } from "../../src/connectors/catalogue.js";
import { parseEndpoint } from "../../src/connectors/wiz/client.js";
import { wiz } from "../../src/connectors/wiz/index.js";
import { CATEGORIES } from "../../src/connectors/types.js";
import { displayValue, parseSettingsForm } from "../../src/integrations/form.js";

describe("Wiz API endpoint", () => {
  it("accepts the Tenant Info URL with or without /graphql, and the government tenants", () => {
    expect(parseEndpoint("https://api.us17.app.wiz.io/")).toEqual({
      graphqlUrl: "https://api.us17.app.wiz.io/graphql",
      tokenUrl: "https://auth.app.wiz.io/oauth/token",
      dataCenter: "us17",
    });
    expect(parseEndpoint("https://api.eu1.app.wiz.io/graphql")?.graphqlUrl).toBe("https://api.eu1.app.wiz.io/graphql");
    expect(parseEndpoint("https://api.eu1.app.wiz.io")?.dataCenter).toBe("eu1");
    expect(parseEndpoint("https://api.us1.gov.wiz.io/")?.tokenUrl).toBe("https://auth.gov.wiz.io/oauth/token");
    expect(parseEndpoint("https://api.us1.app.wiz.us/graphql")?.tokenUrl).toBe("https://auth.app.wiz.us/oauth/token");
  });

  it("rejects anything else", () => {
    for (const bad of [
      "http://api.us1.app.wiz.io/",
      "https://app.wiz.io/",
      "https://api.us1.app.wiz.io.evil.com/",
      "https://api.us1.app.wiz.io/other",
      "https://api.us1.app.wiz.io:8443/",
      "api.us1.app.wiz.io",
      "",
    ]) {
      expect(parseEndpoint(bad), bad).toBeUndefined();
    }
  });
});

describe("settings form parsing", () => {
  const good = { apiEndpoint: " https://api.us1.app.wiz.io/ ", clientId: "cid", clientSecret: "csecret", scanSca: "on" };

  it("parses values, trims text, turns checkboxes into booleans and separates secrets", () => {
    const parsed = parseSettingsForm(wiz, good);
    expect(parsed).toEqual({
      ok: true,
      settings: { apiEndpoint: "https://api.us1.app.wiz.io/", clientId: "cid", scanSca: true, scanContainerImages: false },
      secrets: { clientSecret: "csecret" },
    });
  });

  it("reports every missing, malformed and oversized field beside it", () => {
    const parsed = parseSettingsForm(wiz, { apiEndpoint: "https://example.com", clientId: "x".repeat(201) });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.errors.apiEndpoint).toMatch(/User Settings → Tenant/);
    expect(parsed.errors.clientId).toMatch(/too long: at most 200/);
    expect(parsed.errors.clientSecret).toBe("Enter the Client Secret.");
  });

  it("keeps a stored secret when the field is left empty, and fixes non-editable fields once connected", () => {
    const existing = {
      settings: { apiEndpoint: "https://api.us1.app.wiz.io/", clientId: "old", scanSca: true, scanContainerImages: true },
      secrets: { clientSecret: "stored" },
    };
    const parsed = parseSettingsForm(wiz, { apiEndpoint: "https://api.eu9.app.wiz.io/", clientId: "new", clientSecret: "" }, existing);
    expect(parsed).toEqual({
      ok: true,
      settings: { apiEndpoint: "https://api.us1.app.wiz.io/", clientId: "new", scanSca: false, scanContainerImages: false },
      secrets: { clientSecret: "stored" },
    });
  });

  it("never shows a secret back, and defaults the scan options to on", () => {
    const secret = wiz.fields.find((f) => f.name === "clientSecret")!;
    expect(displayValue(secret, { clientSecret: "leak" })).toBe("");
    const sca = wiz.fields.find((f) => f.name === "scanSca")!;
    expect(displayValue(sca, undefined)).toBe(true);
  });
});

describe("connector registry", () => {
  it("has every card of the Integration Hub in the seed's categories", () => {
    const catalogue = defaultCatalogue();
    const kinds = catalogue.all().map((c) => c.card.kind);
    for (const kind of ["github", "gitlab", "bitbucket", "wiz", "jira", "slack", "github-issues", "gitlab-issues", "azure-devops", "servicenow"]) {
      expect(kinds).toContain(kind);
    }
    for (const group of catalogue.byCategory()) {
      expect(group.connectors.length, group.category.title).toBeGreaterThan(0);
    }
    expect(catalogue.byCategory().map((g) => g.category.title)).toEqual(CATEGORIES.map((c) => c.title));
    expect(catalogue.get("wiz")).toBeDefined();
    expect(catalogue.get("jira")?.tracker).toBeDefined();
    expect(catalogue.get("slack")?.notifier).toBeDefined();
    expect(catalogue.get("github-dependabot")?.scanner).toBeDefined();
  });
});

describe("pull requests from outside the repository", () => {
  it("each source control tells a fork's pull request from the repository's own", async () => {
    const { GitHubSim } = await import("../sim/github.js");
    const { GitLabSim } = await import("../sim/gitlab.js");
    const { BitbucketSim } = await import("../sim/bitbucket.js");
    const { parseGitHubDelivery } = await import("../../src/connectors/github/webhook.js");
    const { parseGitLabDelivery } = await import("../../src/connectors/gitlab/webhook.js");
    const { parseBitbucketDelivery } = await import("../../src/connectors/bitbucket/webhook.js");
    const github = new GitHubSim();
    github.addRepos("acme", 1);
    const repo = github.repos[0]!;
    const gh = (fork?: { owner: string; association?: string }) =>
      parseGitHubDelivery(
        "pull_request",
        JSON.stringify(github.pullRequestPayload({ action: "opened", repo, number: 1, title: "t", fork })),
        "application/json",
      )!.outside;
    expect(gh()).toBeNull();
    expect(gh({ owner: "stranger" })).toContain("from the fork stranger/");
    expect(gh({ owner: "stranger", association: "CONTRIBUTOR" })).toContain("contributor");
    for (const association of ["OWNER", "MEMBER", "COLLABORATOR"]) expect(gh({ owner: "teammate", association })).toBeNull();

    const gitlab = new GitLabSim();
    gitlab.addProjects("acme", 1);
    const project = gitlab.projects[0]!;
    const gl = (fork?: { owner: string }) =>
      parseGitLabDelivery("Merge Request Hook", JSON.stringify(gitlab.mergeRequestPayload({ action: "open", project, iid: 1, title: "t", fork })))!.outside;
    expect(gl()).toBeNull();
    expect(gl({ owner: "stranger" })).toContain("from the fork stranger/");

    const bitbucket = new BitbucketSim();
    bitbucket.addRepos("acme", 1);
    const bbRepo = bitbucket.workspaces.get("acme")![0]!;
    const bb = (fork?: { owner: string }) =>
      parseBitbucketDelivery("pullrequest:created", JSON.stringify(bitbucket.pullRequestPayload({ repo: bbRepo, id: 1, title: "t", fork })))!.outside;
    expect(bb()).toBeNull();
    expect(bb({ owner: "stranger" })).toContain("from the fork stranger/");
  });
});
