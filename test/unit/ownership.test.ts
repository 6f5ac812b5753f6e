// CODEOWNERS as GitHub and GitLab read them (patterns, last match wins, sections, comments,
// escapes), and how a route is chosen from owners, topics and a repository's override.
import { describe, expect, it } from "vitest";
import { ownersOf, parseCodeowners, patternMatches } from "../../src/routing/codeowners.js";
import { defaultCatalogue } from "../../src/connectors/catalogue.js";
import { computeRoute, type RoutingSettings, validateRule as validateWith } from "../../src/routing/ownership.js";

/** The rule check with the channel rules of the connectors Patchbay ships (Slack names channels). */
const catalogue = defaultCatalogue();
const validateRule = (rule: Parameters<typeof validateWith>[0]) => validateWith(rule, (ch) => catalogue.channelProblem(ch));

describe("CODEOWNERS patterns", () => {
  const cases: [string, string, boolean][] = [
    ["*", "package-lock.json", true],
    ["*", "apps/web/package.json", true],
    ["*.js", "src/index.js", true],
    ["*.js", "src/index.ts", false],
    ["/build/logs/", "build/logs/a.log", true],
    ["/build/logs/", "x/build/logs/a.log", false],
    ["docs/*", "docs/getting-started.md", true],
    ["docs/*", "docs/build-app/troubleshooting.md", false],
    ["apps/", "apps/web/package.json", true],
    ["apps/", "services/apps/x/go.mod", true],
    ["apps", "apps/web/package.json", true],
    ["/services/payments/", "services/payments/go.sum", true],
    ["/services/payments/", "services/payments-v2/go.sum", false],
    ["**/logs", "deep/down/logs/x.txt", true],
    ["/docs/**", "docs/a/b/c.md", true],
    ["requirements?.txt", "requirements1.txt", true],
    ["My Docs/", "My Docs/x.md", true],
  ];
  for (const [pattern, path, expected] of cases) {
    it(`${pattern} ${expected ? "matches" : "does not match"} ${path}`, () => expect(patternMatches(pattern, path)).toBe(expected));
  }
});

describe("reading CODEOWNERS", () => {
  const file = [
    "# Lines starting with # are comments.",
    "*       @acme/platform",
    "",
    "/services/payments/   @acme/payments ada@acme.example   # trailing comment",
    "*.lock  @acme/deps",
    "/docs/  not-an-owner",
    "/vendor/",
    "\\#notes.md @acme/writers",
    "My\\ Docs/ @acme/writers",
  ].join("\n");
  const co = parseCodeowners(file, ".github/CODEOWNERS", "abc");

  it("keeps rules in order with their owners, and says which owners it could not read", () => {
    expect(co.rules.map((r) => r.pattern)).toEqual(["*", "/services/payments/", "*.lock", "/docs/", "/vendor/", "#notes.md", "My Docs/"]);
    expect(co.rules[1]!.owners).toEqual(["@acme/payments", "ada@acme.example"]);
    expect(co.problems).toEqual(['Line 6: "not-an-owner" is not a user, team or e-mail address.']);
    // A pattern with no owners makes its files unowned (GitHub's rule).
    expect(co.rules.find((r) => r.pattern === "/vendor/")!.owners).toEqual([]);
  });

  it("gives a path the owners of the last matching rule", () => {
    expect(ownersOf(co, "services/payments/package-lock.json")).toEqual(["@acme/payments", "ada@acme.example"]);
    expect(ownersOf(co, "services/payments/Cargo.lock")).toEqual(["@acme/deps"]);
    expect(ownersOf(co, "apps/web/package.json")).toEqual(["@acme/platform"]);
    expect(ownersOf(co, "vendor/lib/go.mod")).toEqual([]);
    expect(ownersOf(co, "#notes.md")).toEqual(["@acme/writers"]);
    // No path: the owners of the repository's root files.
    expect(ownersOf(co, null)).toEqual(["@acme/platform"]);
  });

  it("reads GitLab sections: each section adds its last match, default owners apply to bare patterns", () => {
    const gl = parseCodeowners(["* @acme/platform", "[Security] @acme/appsec", "*.lock", "^[Docs]", "/docs/ @acme/writers"].join("\n"), "CODEOWNERS", null);
    expect(ownersOf(gl, "package-lock.lock")).toEqual(["@acme/platform", "@acme/appsec"]);
    expect(ownersOf(gl, "docs/a.md")).toEqual(["@acme/platform", "@acme/writers"]);
  });
});

describe("choosing a route", () => {
  const settings: RoutingSettings = {
    useCodeowners: true,
    useTopics: true,
    rules: [
      { match: "@acme/payments", assignee: "712020:payments-lead", component: "Payments", labels: ["team-payments"], channel: "#payments-sec" },
      { match: "@acme/platform", assignee: "712020:platform-lead", component: "Platform", labels: ["team-platform"], channel: "" },
      { match: "topic:pci", assignee: "", component: "", labels: ["pci"], channel: "#pci-alerts" },
    ],
  };
  const co = parseCodeowners("* @acme/platform\n/services/payments/ @acme/payments\n", "CODEOWNERS", null);
  const repo = (
    paths: string[],
    extra: Partial<{ topics: string[]; override: { assignee: string; component: string; labels: string[]; channel: string } | null }> = {},
  ) => ({
    fullName: "acme/shop",
    paths,
    ownership: { topics: extra.topics ?? [], codeowners: co, override: extra.override ?? null },
  });

  it("takes the owners of the manifest a finding comes from", () => {
    const route = computeRoute(settings, [repo(["services/payments/package-lock.json"])]);
    expect(route).toMatchObject({
      owners: ["@acme/payments"],
      assignee: "712020:payments-lead",
      component: "Payments",
      labels: ["team-payments"],
      channel: "#payments-sec",
    });
    expect(route.reasons[0]).toContain("CODEOWNERS owner @acme/payments");
  });

  it("falls back to the root's owners, fills from topics, and adds every matching row's labels", () => {
    const route = computeRoute(settings, [repo([], { topics: ["pci"] })]);
    expect(route).toMatchObject({
      owners: ["@acme/platform"],
      assignee: "712020:platform-lead",
      component: "Platform",
      labels: ["team-platform", "pci"],
      channel: "#pci-alerts",
    });
  });

  it("lets a repository's override win and keeps the routed values it leaves empty", () => {
    const route = computeRoute(settings, [repo([], { override: { assignee: "712020:on-call", component: "", labels: ["urgent"], channel: "" } })]);
    expect(route).toMatchObject({ assignee: "712020:on-call", component: "Platform", labels: ["urgent", "team-platform"] });
  });

  it("ignores a source that is switched off", () => {
    expect(computeRoute({ ...settings, useCodeowners: false }, [repo([], { topics: ["pci"] })])).toMatchObject({
      owners: [],
      assignee: null,
      labels: ["pci"],
      channel: "#pci-alerts",
    });
  });

  it("refuses rows that could never match or would do nothing", () => {
    expect(validateRule({ match: "payments", assignee: "x", component: "", labels: [], channel: "" })).toMatch(/not an owner/);
    expect(validateRule({ match: "@acme/payments", assignee: "", component: "", labels: [], channel: "" })).toMatch(/Give @acme\/payments/);
    expect(validateRule({ match: "topic:pci", assignee: "", component: "", labels: [], channel: "payments" })).toMatch(/not a Slack channel/);
    expect(validateRule({ match: "dev@acme.example", assignee: "ada", component: "", labels: [], channel: "C0123ABCD" })).toBeUndefined();
  });
});
