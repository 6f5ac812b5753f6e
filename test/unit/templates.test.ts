// Ticket templates: Eta's syntax, interpreted (never run), every name checked before use.
import { describe, expect, it } from "vitest";
import { compileTemplate, markdownBlocks, renderTemplate, TemplateError } from "../../src/tickets/templates.js";

const DATA = {
  cve: "CVE-2021-23337",
  severity: "high",
  fixedVersion: "4.17.21",
  findings: [
    { cve: "CVE-2021-23337", package: "lodash", installedVersion: "4.17.20", url: "https://patchbay.example/vulnerabilities/1" },
    { cve: "CVE-2020-8203", package: "lodash", installedVersion: "4.17.15", url: "https://patchbay.example/vulnerabilities/2" },
  ],
  remediations: [],
};

describe("ticket templates", () => {
  it("interpolates, loops and branches", () => {
    const out = renderTemplate(
      "[<%= it.severity %>] <%= it.cve %><% if (it.fixedVersion) { %> → <%= it.fixedVersion %><% } else { %> (no fix)<% } %>\n<% for (const f of it.findings) { %>- <%= f.package %> <%= f.installedVersion %>\n<% } %><% if (!it.remediations) { %>No pull request yet.<% } %>",
      DATA,
    );
    expect(out).toBe("[high] CVE-2021-23337 → 4.17.21\n- lodash 4.17.20\n- lodash 4.17.15\nNo pull request yet.");
  });

  it("refuses unknown variables, misused lists and code, saying where", () => {
    const message = (t: string) => {
      try {
        compileTemplate(t);
        return "";
      } catch (err) {
        expect(err).toBeInstanceOf(TemplateError);
        return (err as Error).message;
      }
    };
    expect(message("<%= it.cvee %>")).toContain('Unknown variable "it.cvee" (line 1)');
    expect(message("a\n<% for (const f of it.findings) { %><%= f.pkg %><% } %>")).toContain('Unknown variable "f.pkg" (line 2). Known: f.cve');
    expect(message("<%= f.cve %>")).toContain("only it.… and the variable of an enclosing loop");
    expect(message("<%= it.findings %>")).toContain("it.findings is a list");
    expect(message("<% process.exit(1) %>")).toContain("is not something a template can do");
    expect(message("<%= require('fs') %>")).toContain("is not a variable");
    expect(message("<% if (it.cve) { %>x")).toContain("is not closed");
    expect(message("<% } %>")).toContain("closes nothing");
    expect(message("")).toBe("");
  });

  it("reads light Markdown as blocks: headings, lists, links and code", () => {
    expect(
      markdownBlocks("## Fix\nUpgrade `lodash` to 4.17.21.\n\n- see [the advisory](https://github.com/advisories/GHSA-35jh-r3h4-6jhm)\n- then rebuild"),
    ).toEqual([
      { type: "heading", text: "Fix" },
      { type: "paragraph", spans: [{ text: "Upgrade " }, { text: "lodash", code: true }, { text: " to 4.17.21." }] },
      {
        type: "list",
        items: [[{ text: "see " }, { text: "the advisory", href: "https://github.com/advisories/GHSA-35jh-r3h4-6jhm" }], [{ text: "then rebuild" }]],
      },
    ]);
  });
});
