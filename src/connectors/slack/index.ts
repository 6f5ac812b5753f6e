// Slack notifications: an incoming webhook URL, or a bot token and a channel
// (chat.postMessage). Messages are Block Kit with a button back to the Patchbay page.
// Slack's answers differ by route: a webhook answers errors as plain strings with 4xx;
// the Web API always answers HTTP 200 with {ok: false, error}.
import { ExternalError } from "../../http.js";
import { RULE_FIELDS, testNotification } from "../notifier.js";
import type { Connector, ConnectionSettings, ConnectorContext, Notification } from "../types.js";

const SERVICE = "Slack";
const API = "https://slack.com/api";

/** Slack's mrkdwn needs &, < and > escaped; everything else is literal. */
function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const ICON: Record<Notification["level"], string> = { error: ":red_circle:", warning: ":large_orange_circle:", info: ":large_blue_circle:" };

export function slackMessage(n: Notification): Record<string, unknown> {
  const more = n.more > 0 ? `\n_…and ${n.more} more like it in the last minute._` : "";
  const blocks: Record<string, unknown>[] = [
    { type: "header", text: { type: "plain_text", text: n.title.slice(0, 150), emoji: true } },
    { type: "section", text: { type: "mrkdwn", text: `${ICON[n.level]} ${esc(n.text)}${more}`.slice(0, 3000) } },
  ];
  if (n.facts.length)
    blocks.push({ type: "section", fields: n.facts.slice(0, 10).map((f) => ({ type: "mrkdwn", text: `*${esc(f.label)}*\n${esc(f.value)}`.slice(0, 2000) })) });
  if (n.link) blocks.push({ type: "actions", elements: [{ type: "button", text: { type: "plain_text", text: n.link.label.slice(0, 75) }, url: n.link.url }] });
  blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: `Patchbay · ${esc(n.event)} · ${n.at.replace("T", " ").slice(0, 16)} UTC` }] });
  // The text is the notification's fallback (and what screen readers and push alerts show).
  return { text: `${n.title}: ${n.text}`.slice(0, 3000), blocks };
}

const WEBHOOK_ERRORS: Record<string, { kind: ExternalError["kind"]; say: string }> = {
  invalid_payload: { kind: "remote", say: "Slack refused the message as malformed (invalid_payload)." },
  action_prohibited: { kind: "permission", say: "A Slack admin has restricted this webhook (action_prohibited)." },
  channel_not_found: { kind: "not_found", say: "The webhook's channel no longer exists (channel_not_found): create a new webhook." },
  no_service: { kind: "not_found", say: "The webhook was removed or disabled in Slack (no_service): create a new one and paste its URL." },
  channel_is_archived: {
    kind: "invalid_input",
    say: "The webhook's channel is archived (channel_is_archived): unarchive it or create a webhook for another channel.",
  },
  no_team: { kind: "not_found", say: "The Slack workspace of this webhook no longer exists (no_team)." },
};

const API_ERRORS: Record<string, { kind: ExternalError["kind"]; say: string }> = {
  not_authed: { kind: "auth", say: "Slack got no token (not_authed)." },
  invalid_auth: { kind: "auth", say: "Slack did not accept the bot token (invalid_auth)." },
  token_revoked: { kind: "auth", say: "The bot token was revoked (token_revoked): reinstall the app and paste its new token." },
  token_expired: { kind: "auth", say: "The bot token expired (token_expired)." },
  account_inactive: { kind: "auth", say: "The bot's account was deactivated (account_inactive)." },
  missing_scope: { kind: "permission", say: "The bot token lacks the chat:write scope (missing_scope): add it and reinstall the app." },
  not_in_channel: { kind: "permission", say: "The bot is not in the channel (not_in_channel): invite it with /invite @your-app in that channel." },
  channel_not_found: {
    kind: "invalid_input",
    say: "Slack knows no such channel (channel_not_found): use its name (#security) or ID (C0123…), and invite the bot to private channels.",
  },
  is_archived: { kind: "invalid_input", say: "The channel is archived (is_archived)." },
};

async function send(connection: ConnectionSettings, ctx: ConnectorContext, notification: Notification): Promise<void> {
  const webhook = connection.secrets.webhookUrl;
  const token = connection.secrets.botToken;
  const channel = String(connection.settings.channel ?? "").trim();
  const message = slackMessage(notification);
  if (webhook) {
    const http = ctx.http(SERVICE, { errorMessage: (body) => body.trim().slice(0, 100) });
    try {
      await http.request({ method: "POST", url: webhook, headers: { "content-type": "application/json" }, body: JSON.stringify(message), idempotent: false });
    } catch (err) {
      const known = err instanceof ExternalError && err.remoteMessage ? WEBHOOK_ERRORS[err.remoteMessage] : undefined;
      if (known && err instanceof ExternalError)
        throw new ExternalError(known.kind, SERVICE, known.say, { status: err.status, remoteMessage: err.remoteMessage });
      throw err;
    }
    return;
  }
  if (!token || !channel) throw new ExternalError("invalid_input", SERVICE, "Enter an incoming webhook URL, or a bot token and a channel.");
  const http = ctx.http(SERVICE);
  const { data } = await http.json<{ ok: boolean; error?: string }>({
    method: "POST",
    url: `${API}/chat.postMessage`,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json; charset=utf-8" },
    body: JSON.stringify({ channel: notification.channel || channel, ...message, unfurl_links: false }),
  });
  if (!data.ok) {
    const known = API_ERRORS[data.error ?? ""];
    throw new ExternalError(known?.kind ?? "remote", SERVICE, known?.say ?? `Slack refused the message (${data.error ?? "unknown error"}).`, {
      status: 200,
      remoteMessage: data.error,
    });
  }
}

export const slack: Connector = {
  multiInstance: true,
  card: {
    kind: "slack",
    name: "Slack",
    category: "collaboration",
    summary: "Notifications when connecting or updating a ticket fails, and other events you choose.",
    overview: {
      description:
        "Connect Slack to receive notifications if there is an issue connecting an integration or updating a ticket during remediation, and for the other events you choose.",
      benefits: [
        "Failures reported where your team already looks",
        "A button back to the Patchbay page concerned",
        "Bursts collapsed into one message a minute",
      ],
      requirements: ["A Slack incoming webhook URL, or a bot token with chat:write and a channel the bot was invited to"],
      docs: [
        { label: "Slack: Incoming webhooks", url: "https://api.slack.com/messaging/webhooks" },
        { label: "Slack: chat.postMessage", url: "https://api.slack.com/methods/chat.postMessage" },
      ],
    },
  },
  fields: [
    {
      name: "webhookUrl",
      label: "Incoming webhook URL",
      type: "secret",
      editableWhenConnected: true,
      help: "From your Slack app's Incoming Webhooks page (https://hooks.slack.com/services/…). Or use a bot token and a channel below.",
      validate: (v) => (/^https:\/\/\S+$/.test(v) ? undefined : "Paste the whole webhook URL, starting with https://hooks.slack.com/services/."),
    },
    {
      name: "botToken",
      label: "Bot token",
      type: "secret",
      editableWhenConnected: true,
      help: "A bot token (xoxb-…) with the chat:write scope.",
      validate: (v) => (/^xox[bp]-/.test(v) ? undefined : "A bot token starts with xoxb-."),
    },
    {
      name: "channel",
      label: "Channel",
      type: "text",
      editableWhenConnected: true,
      glance: true,
      example: "#security-alerts",
      help: "With a bot token: the channel's name or ID; invite the bot to it first.",
    },
    ...RULE_FIELDS,
  ],
  defaultName: (settings) => (typeof settings.channel === "string" && settings.channel ? `Slack ${settings.channel}` : "Slack"),
  async test(connection, ctx) {
    await send(connection, ctx, testNotification(new Date()));
    return { message: "Slack accepted the test message: look for it in the channel." };
  },
  troubleshoot(error) {
    if (error.kind === "auth")
      return {
        title: "Connection Failed — Slack did not accept the token",
        steps: ["Copy the bot token (xoxb-…) again from OAuth & Permissions, or reinstall the app to the workspace."],
      };
    if (error.kind === "not_found" || error.kind === "permission" || error.kind === "invalid_input")
      return { title: "Connection Failed — Slack refused the message", steps: [error.message] };
    return undefined;
  },
  notifier: {
    send,
    channelProblem: (channel) =>
      /^(#[\w.-]{1,80}|[CGD][A-Z0-9]{6,20})$/.test(channel) ? undefined : `Channel "${channel}" is not a Slack channel name (#security) or ID (C0123…).`,
  },
};
