// Microsoft Teams notifications: a Workflows (Power Automate) webhook URL, or a classic
// incoming webhook, posted an Adaptive Card in a message attachment.
import { RULE_FIELDS, testNotification } from "../notifier.js";
import type { Connector, ConnectionSettings, ConnectorContext, Notification } from "../types.js";

const SERVICE = "Microsoft Teams";
const COLOR: Record<Notification["level"], string> = { error: "Attention", warning: "Warning", info: "Accent" };

export function adaptiveCard(n: Notification): Record<string, unknown> {
  const body: Record<string, unknown>[] = [
    { type: "TextBlock", text: n.title, weight: "Bolder", size: "Medium", wrap: true, color: COLOR[n.level], style: "heading" },
    { type: "TextBlock", text: n.text, wrap: true },
  ];
  if (n.more > 0) body.push({ type: "TextBlock", text: `…and ${n.more} more like it in the last minute.`, wrap: true, isSubtle: true });
  if (n.facts.length) body.push({ type: "FactSet", facts: n.facts.map((f) => ({ title: f.label, value: f.value })) });
  body.push({ type: "TextBlock", text: `Patchbay · ${n.event} · ${n.at.replace("T", " ").slice(0, 16)} UTC`, size: "Small", isSubtle: true, wrap: true });
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body,
          ...(n.link ? { actions: [{ type: "Action.OpenUrl", title: n.link.label, url: n.link.url }] } : {}),
        },
      },
    ],
  };
}

async function send(connection: ConnectionSettings, ctx: ConnectorContext, notification: Notification): Promise<void> {
  const url = connection.secrets.webhookUrl ?? "";
  await ctx
    .http(SERVICE)
    .request({ method: "POST", url, headers: { "content-type": "application/json" }, body: JSON.stringify(adaptiveCard(notification)), idempotent: false });
}

export const teams: Connector = {
  multiInstance: true,
  card: {
    kind: "microsoft-teams",
    name: "Microsoft Teams",
    category: "collaboration",
    summary: "Notifications as Adaptive Cards in a Teams channel.",
    overview: {
      description: "Send Patchbay's notifications to a Microsoft Teams channel through a Workflows webhook (or a classic incoming webhook).",
      benefits: ["Failures and events reported in Teams", "A button back to the Patchbay page concerned"],
      requirements: ['A Teams Workflows webhook URL (the "Post to a channel when a webhook request is received" template), or an incoming webhook URL'],
      docs: [
        {
          label: "Microsoft: Create incoming webhooks with Workflows",
          url: "https://support.microsoft.com/en-us/office/create-incoming-webhooks-with-workflows-for-microsoft-teams-8ae491c7-0394-4861-ba59-055e33f75498",
        },
      ],
    },
  },
  fields: [
    {
      name: "webhookUrl",
      label: "Webhook URL",
      type: "secret",
      required: true,
      editableWhenConnected: true,
      maxLength: 2000,
      help: "The URL Teams gave for the channel's workflow or incoming webhook.",
      validate: (v) => (/^https:\/\/\S+$/.test(v) ? undefined : "Paste the whole webhook URL, starting with https://."),
    },
    ...RULE_FIELDS,
  ],
  defaultName: () => "Microsoft Teams",
  async test(connection, ctx) {
    await send(connection, ctx, testNotification(new Date()));
    return { message: "Teams accepted the test message: look for it in the channel." };
  },
  troubleshoot(error) {
    if (error.kind === "not_found" || error.kind === "auth" || error.kind === "permission") {
      return {
        title: "Connection Failed — Teams refused the webhook",
        steps: ["The workflow or webhook may have been turned off or deleted: create it again in the channel and paste the new URL."],
      };
    }
    return undefined;
  },
  notifier: { send },
};
