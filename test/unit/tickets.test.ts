// Pure parts of the ticket engine and the Jira connector: field mapping rules, ticket
// state, subject keys, ADF rendering within Jira's limit, and Jira's error bodies.
import { describe, expect, it } from "vitest";
import type { TrackerField } from "../../src/connectors/types.js";
import { MAX_DOCUMENT_CHARS, toAdf } from "../../src/connectors/jira/adf.js";
import Ajv04 from "ajv-draft-04";
import adfSchema from "@atlaskit/adf-schema/dist/json-schema/v1/full.json" with { type: "json" };
import { jiraErrorMessage } from "../../src/connectors/jira/client.js";
import { mentionedTicketKeys } from "../../src/remediation/fixes.js";
import { resolveFields, suggestMapping, suggestSeverityMap, validateMapping } from "../../src/tickets/fields.js";
import { buildView, ticketState } from "../../src/tickets/render.js";
import { parseSubjectKey, subjectKeyOf } from "../../src/tickets/subjects.js";

const PRIORITY: TrackerField = {
  id: "priority",
  name: "Priority",
  required: false,
  kind: "choice",
  hasDefault: true,
  special: true,
  allowedValues: ["Highest", "High", "Medium", "Low", "Lowest"].map((name, i) => ({ id: String(i + 1), name })),
};
const SUMMARY: TrackerField = { id: "summary", name: "Summary", required: true, kind: "text", hasDefault: false };
const TEAM: TrackerField = {
  id: "customfield_1",
  name: "Team",
  required: true,
  kind: "choice",
  hasDefault: false,
  allowedValues: [{ id: "9", name: "Payments" }],
};

describe("field mapping", () => {
  it("suggests Summary ← title and Priority ← severity with a value per severity", () => {
    const mapping = suggestMapping([SUMMARY, PRIORITY, TEAM]);
    expect(mapping.find((m) => m.fieldId === "summary")).toMatchObject({ source: "patchbay", value: "title" });
    expect(mapping.find((m) => m.fieldId === "priority")).toMatchObject({
      source: "patchbay",
      value: "severity",
      severityMap: { critical: "1", high: "2", medium: "3", low: "4", info: "5" },
    });
    expect(mapping.find((m) => m.fieldId === "customfield_1")).toMatchObject({ source: "none" });
    expect(
      suggestSeverityMap([
        { id: "a", name: "P1 - Blocker" },
        { id: "b", name: "Minor" },
      ]),
    ).toEqual({ critical: "a", low: "b", info: "b" });
    expect(suggestSeverityMap(["1 - High", "2 - Medium", "3 - Low"].map((name, i) => ({ id: String(i + 1), name })))).toEqual({
      critical: "1",
      high: "1",
      medium: "2",
      low: "3",
      info: "3",
    });
  });

  it("refuses special fields not mapped to Patchbay, unmapped mandatory fields, and values the tracker does not allow", () => {
    const mapping = suggestMapping([SUMMARY, PRIORITY, TEAM]);
    const errors = validateMapping(
      mapping.map((m) => (m.fieldId === "priority" ? { ...m, source: "manual" as const, value: "High" } : m)),
      [SUMMARY, PRIORITY, TEAM],
    );
    expect(errors).toEqual({ priority: "Priority must be mapped to a Patchbay field.", customfield_1: "Team is mandatory in the tracker: map it." });
    const wrong = validateMapping(
      mapping.map((m) => (m.fieldId === "customfield_1" ? { ...m, source: "tracker" as const, value: "10" } : m)),
      [SUMMARY, PRIORITY, TEAM],
    );
    expect(wrong.customfield_1).toBe("Choose one of the values the tracker allows for Team.");
    const removed = validateMapping(mapping, [PRIORITY, TEAM]);
    expect(removed.summary).toContain('The field "Summary" no longer exists');
  });

  it("resolves values by the field's kind", () => {
    const view = buildView(
      "finding:7",
      [
        {
          id: 7,
          cve: "CVE-2021-3749",
          title: "axios ReDoS",
          description: "Inefficient regular expression.",
          severity: "critical",
          cvss: 9.1,
          status: "open",
          package: "axios",
          ecosystem: "npm",
          installedVersion: "0.21.1",
          fixedVersion: "0.21.2",
          firstDetectedAt: "2026-11-01T10:00:00Z",
          assetName: "acme/api",
          repository: { fullName: "acme/api", url: "https://github.com/acme/api" },
          scannerUrl: null,
          stillDetected: false,
          dueAt: "2026-11-04T10:00:00.000Z",
          risk: 91,
          kev: true,
        },
      ],
      [],
      "https://patchbay.example",
    );
    const values = resolveFields(suggestMapping([SUMMARY, PRIORITY]), view);
    expect(values).toEqual({ summary: { kind: "text", text: "CVE-2021-3749 in axios 0.21.1 (acme/api)" }, priority: { kind: "choice", id: "1" } });
    // The risk score onto a number field (suggested for a field named "Risk score") or text; KEV as Yes/No or a label.
    const RISK = { id: "risk", name: "Risk score", kind: "number" as const, required: false, hasDefault: false };
    const mapping = [
      ...suggestMapping([RISK]),
      { fieldId: "notes", name: "Notes", kind: "text" as const, required: false, source: "patchbay" as const, value: "risk" },
      { fieldId: "exploited", name: "Exploited", kind: "text" as const, required: false, source: "patchbay" as const, value: "kev" },
      { fieldId: "tags", name: "Tags", kind: "labels" as const, required: false, source: "patchbay" as const, value: "kev" },
    ];
    expect(resolveFields(mapping, view)).toEqual({
      risk: { kind: "number", value: 91 },
      notes: { kind: "text", text: "91" },
      exploited: { kind: "text", text: "Yes" },
      tags: { kind: "list", items: ["known-exploited"] },
    });
    expect(view.plainText).toContain("Risk: 91 / 100 (critical)");
    expect(view.plainText).toContain("Known exploited: Yes: in CISA's Known Exploited Vulnerabilities");
    const unscored = buildView("finding:7", [{ ...view.findings[0]!, risk: null, kev: false }], [], "https://patchbay.example");
    expect(resolveFields(mapping, unscored)).toEqual({ exploited: { kind: "text", text: "No" } });
    expect(unscored.plainText).not.toContain("Risk");
    expect(view.dueDate).toBe("2026-11-04");
    expect(view.text.finding_link).toBe("https://patchbay.example/vulnerabilities/7");
  });
});

describe("ticket state", () => {
  it("is in progress while a pull request is open, done once all are resolved, accepted when risk was accepted", () => {
    expect(ticketState(["open", "in_remediation"])).toBe("in_progress");
    expect(ticketState(["open", "resolved"])).toBe("open");
    expect(ticketState(["resolved", "resolved"])).toBe("done");
    expect(ticketState(["resolved", "false_positive"])).toBe("accepted");
  });
});

describe("subjects", () => {
  it("round-trips group keys", () => {
    const finding = { id: 3, ecosystem: "npm", package_lc: "@scope/pkg:x", cve: "CVE-2020-1", asset_id: 4 };
    expect(parseSubjectKey(subjectKeyOf("package", finding))).toEqual({ groupBy: "package", ecosystem: "npm", packageLc: "@scope/pkg:x" });
    expect(parseSubjectKey(subjectKeyOf("finding", finding))).toEqual({ groupBy: "finding", findingId: 3 });
    expect(parseSubjectKey(subjectKeyOf("asset", finding))).toEqual({ groupBy: "asset", assetId: 4 });
    expect(parseSubjectKey(subjectKeyOf("owner", { ...finding, owner: "@acme/a:b team" }))).toEqual({
      groupBy: "owner",
      owner: "@acme/a:b team",
      ecosystem: "npm",
      packageLc: "@scope/pkg:x",
    });
    expect(parseSubjectKey(subjectKeyOf("owner", { ...finding, ecosystem: null }))).toEqual({
      groupBy: "owner",
      owner: "",
      ecosystem: null,
      packageLc: "@scope/pkg:x",
    });
    expect(parseSubjectKey("owner:%E0%A4%A:npm:x")).toBeUndefined();
    expect(parseSubjectKey("nonsense")).toBeUndefined();
  });

  it("finds ticket keys in pull request text, but not CVE ids", () => {
    expect(mentionedTicketKeys("Fixes SEC-12 and acme/api#4; see CVE-2021-3749")).toEqual(["SEC-12", "acme/api#4"]);
  });
});

/** Atlassian's published ADF schema (@atlaskit/adf-schema): the errors, none when valid. */
const adfValidator = new Ajv04({ strict: false, allErrors: true }).compile(adfSchema);
function validAdf(doc: unknown): unknown[] {
  return adfValidator(doc) ? [] : (adfValidator.errors ?? []).slice(0, 5);
}

describe("Atlassian Document Format", () => {
  it("renders links and code marks, and never an empty text node", () => {
    const doc = toAdf([
      {
        type: "paragraph",
        spans: [{ text: "" }, { text: "see ", href: undefined }, { text: "here", href: "https://x.example" }, { text: "1.2.3", code: true }],
      },
    ]);
    expect(doc).toEqual({
      type: "doc",
      version: 1,
      content: [
        {
          type: "paragraph",
          content: [
            { type: "text", text: "see " },
            { type: "text", text: "here", marks: [{ type: "link", attrs: { href: "https://x.example" } }] },
            { type: "text", text: "1.2.3", marks: [{ type: "code" }] },
          ],
        },
      ],
    });
  });

  it("drops list items to stay within Jira's 32,767 characters, and says how many", () => {
    const items = Array.from({ length: 2000 }, (_, i) => [{ text: `CVE-2020-${10000 + i} in some-package 1.0.0 on acme/api — Open` }]);
    const doc = toAdf([{ type: "list", items }]);
    const json = JSON.stringify(doc);
    expect(json.length).toBeLessThanOrEqual(MAX_DOCUMENT_CHARS);
    const list = (doc.content as { content: unknown[] }[])[0]!.content;
    const kept = list.length - 1;
    expect(json).toContain(`… and ${2000 - kept} more, left out to stay within Jira's 32,767 characters: see them in Patchbay.`);
    expect(validAdf(doc)).toEqual([]);
  });

  it("is valid against Atlassian's ADF schema, whatever the content: empty lists and facts, empty headings, a very long paragraph", () => {
    const cases: Parameters<typeof toAdf>[0][] = [
      [],
      [{ type: "list", items: [] }],
      [
        { type: "facts", rows: [] },
        { type: "heading", text: "" },
      ],
      [
        { type: "heading", text: "CVE-2021-3749" },
        { type: "facts", rows: [{ label: "Package", value: [{ text: "axios", code: true }] }] },
        { type: "paragraph", spans: [{ text: "See " }, { text: "the advisory", href: "https://osv.dev/vulnerability/GHSA-cph5-m8f7-6c5x" }] },
      ],
      [{ type: "paragraph", spans: [{ text: "x".repeat(50_000) }] }],
    ];
    for (const blocks of cases) {
      const doc = toAdf(blocks);
      expect(validAdf(doc), JSON.stringify(blocks).slice(0, 80)).toEqual([]);
      expect(JSON.stringify(doc).length).toBeLessThanOrEqual(MAX_DOCUMENT_CHARS);
    }
    // The schema is in force: an empty bullet list is refused by it.
    expect(validAdf({ type: "doc", version: 1, content: [{ type: "bulletList", content: [] }] })).not.toEqual([]);
  });
});

describe("Jira error bodies", () => {
  it("joins errorMessages and field errors, and reads the gateway's message", () => {
    expect(jiraErrorMessage(JSON.stringify({ errorMessages: ["Issue does not exist"], errors: { priority: "Specify a valid value" } }))).toBe(
      "Issue does not exist; priority: Specify a valid value",
    );
    expect(jiraErrorMessage(JSON.stringify({ code: 401, message: "Unauthorized; scope does not match" }))).toBe("Unauthorized; scope does not match");
    expect(jiraErrorMessage("Client must be authenticated to access this resource.")).toBe("Client must be authenticated to access this resource.");
  });
});
