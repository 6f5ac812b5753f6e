// How each notifier renders a notification, and the webhook signature receivers check.
import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Notification } from "../../src/connectors/types.js";
import { emailBodies } from "../../src/connectors/email/index.js";
import { slackMessage } from "../../src/connectors/slack/index.js";
import { adaptiveCard } from "../../src/connectors/teams/index.js";
import { signature } from "../../src/connectors/webhook/index.js";
import { ruleFor } from "../../src/notifications/rules.js";

const N: Notification = {
  event: "ticket.push_failed",
  level: "error",
  title: "Pushing a ticket to Security bugs failed",
  text: "Jira said <b>no</b> & more",
  facts: [{ label: "Finding", value: "CVE-2021-3749 in <axios>" }],
  link: { label: "Open the error table", url: "https://patchbay.example/trackers/mappings/1/errors" },
  more: 2,
  at: "2026-11-23T10:00:00.000Z",
};

describe("rendering", () => {
  it("Slack: escaped mrkdwn, facts as fields, a button back to Patchbay, the count of collapsed events", () => {
    const m = slackMessage(N);
    const json = JSON.stringify(m);
    expect(m.text).toBe("Pushing a ticket to Security bugs failed: Jira said <b>no</b> & more");
    expect(json).toContain("Jira said &lt;b&gt;no&lt;/b&gt; &amp; more");
    expect(json).toContain("…and 2 more like it in the last minute.");
    expect(json).toContain('"url":"https://patchbay.example/trackers/mappings/1/errors"');
    expect(json).toContain("*Finding*\\nCVE-2021-3749 in &lt;axios&gt;");
  });

  it("Teams: an Adaptive Card with a fact set and an Open URL action", () => {
    const card = adaptiveCard(N) as {
      type: string;
      attachments: { contentType: string; content: { type: string; body: { type: string }[]; actions: { type: string; url: string }[] } }[];
    };
    expect(card.type).toBe("message");
    expect(card.attachments[0]!.contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(card.attachments[0]!.content.body.map((b) => b.type)).toEqual(["TextBlock", "TextBlock", "TextBlock", "FactSet", "TextBlock"]);
    expect(card.attachments[0]!.content.actions).toEqual([{ type: "Action.OpenUrl", title: "Open the error table", url: N.link!.url }]);
  });

  it("E-mail: a subject, a text part and an escaped HTML part", () => {
    const mail = emailBodies(N);
    expect(mail.subject).toBe("[Patchbay] Pushing a ticket to Security bugs failed");
    expect(mail.text).toContain("Open the error table: https://patchbay.example/trackers/mappings/1/errors");
    expect(mail.html).toContain("CVE-2021-3749 in &lt;axios&gt;");
    expect(mail.html).not.toContain("<b>no</b>");
  });

  it("Webhook: HMAC-SHA256 of timestamp and body", () => {
    const expected = crypto.createHmac("sha256", "s3cret-s3cret-s3cret").update('1700000000.{"a":1}').digest("hex");
    expect(signature("s3cret-s3cret-s3cret", "1700000000", '{"a":1}')).toBe(`sha256=${expected}`);
  });
});

describe("rules", () => {
  const event = (type: string, payload: Record<string, unknown>) => ({ id: 1, type, payload });
  it("follows the event kinds, their defaults, the minimum severity and the integration filter", () => {
    expect(ruleFor({}, event("ticket.push_failed", { integrationId: 3 }), 3)).toBe("push");
    expect(ruleFor({}, event("findings.new", { integrationId: 2, counts: { critical: 1, high: 0, medium: 0, low: 0, info: 0 } }), 2)).toBeUndefined();
    const digest = { notifyNewFindings: true, minSeverity: "critical" };
    expect(ruleFor(digest, event("findings.new", { integrationId: 2, counts: { critical: 1, high: 0, medium: 0, low: 0, info: 0 } }), 2)).toBe("findings");
    expect(ruleFor(digest, event("findings.new", { integrationId: 2, counts: { critical: 0, high: 4, medium: 0, low: 0, info: 0 } }), 2)).toBeUndefined();
    expect(ruleFor({ notifyPushFailed: false }, event("ticket.push_failed", { integrationId: 3 }), 3)).toBeUndefined();
    expect(ruleFor({ onlyIntegrations: "5,6" }, event("scan.failed", { integrationId: 3 }), 3)).toBeUndefined();
    expect(ruleFor({ onlyIntegrations: "5,6" }, event("scan.failed", { integrationId: 6 }), 6)).toBe("scan");
    expect(ruleFor({}, event("remediation.opened", {}), 1)).toBeUndefined();
  });
});
