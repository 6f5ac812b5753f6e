// E-mail notifications through the team's own SMTP server, sent with nodemailer: host, port,
// TLS mode (STARTTLS, implicit TLS, or none on a trusted network), optional credentials,
// sender and recipients. A plain-text and an HTML part, the HTML escaped.
import nodemailer from "nodemailer";
import { ExternalError } from "../../http.js";
import { escapeHtml } from "../html.js";
import { RULE_FIELDS, testNotification } from "../notifier.js";
import type { Connector, ConnectionSettings, ConnectorContext, Notification } from "../types.js";
import { isEmailAddress } from "../../text.js";

const SERVICE = "E-mail";

function recipients(value: string): string[] {
  return value.split(/[,;\s]+/).filter(Boolean);
}

export function emailBodies(n: Notification): { subject: string; text: string; html: string } {
  const more = n.more > 0 ? `…and ${n.more} more like it in the last minute.` : "";
  const text = [
    n.text,
    more,
    n.facts.map((f) => `${f.label}: ${f.value}`).join("\n"),
    n.link ? `${n.link.label}: ${n.link.url}` : "",
    `— Patchbay · ${n.event} · ${n.at}`,
  ]
    .filter(Boolean)
    .join("\n\n");
  const html = [
    `<h2>${escapeHtml(n.title)}</h2>`,
    `<p>${escapeHtml(n.text)}</p>`,
    more ? `<p><em>${escapeHtml(more)}</em></p>` : "",
    n.facts.length
      ? `<table>${n.facts.map((f) => `<tr><th align="left">${escapeHtml(f.label)}</th><td>${escapeHtml(f.value)}</td></tr>`).join("")}</table>`
      : "",
    n.link ? `<p><a href="${escapeHtml(n.link.url)}">${escapeHtml(n.link.label)}</a></p>` : "",
    `<p style="color:#666">Patchbay · ${escapeHtml(n.event)} · ${escapeHtml(n.at)}</p>`,
  ].join("");
  return { subject: `[Patchbay] ${n.title}`.slice(0, 200), text, html };
}

function transport(connection: ConnectionSettings, ctx: ConnectorContext) {
  const s = connection.settings;
  const tls = String(s.tls || "starttls");
  const user = String(s.username ?? "");
  const port = Number(s.port || (tls === "tls" ? 465 : 587));
  // Through the outbound proxy where one is set and NO_PROXY does not exempt the host: an HTTP
  // proxy that allows CONNECT to the SMTP port carries the session.
  const proxy = ctx.proxyFor?.(`https://${String(s.host)}:${port}`);
  return nodemailer.createTransport({
    host: String(s.host),
    port,
    ...(proxy ? { proxy } : {}),
    secure: tls === "tls",
    requireTLS: tls === "starttls",
    ignoreTLS: tls === "none",
    auth: user ? { user, pass: connection.secrets.password ?? "" } : undefined,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
}

/** nodemailer's errors as the kinds the Hub explains. */
function classify(err: unknown, host: string): ExternalError {
  const e = err as { code?: string; responseCode?: number; response?: string; message?: string };
  const said = e.response ? ` The server said: "${e.response.slice(0, 200)}"` : "";
  switch (e.code) {
    case "EAUTH":
      return new ExternalError("auth", SERVICE, `The SMTP server did not accept the user name and password.${said}`, {
        status: e.responseCode,
        remoteMessage: e.response,
      });
    case "ETLS":
      return new ExternalError("unreachable", SERVICE, `TLS with ${host} failed: check the TLS mode (STARTTLS on 587, TLS on 465).${said}`);
    case "ECONNECTION":
    case "ETIMEDOUT":
    case "ESOCKET":
    case "EDNS":
      return new ExternalError(
        "unreachable",
        SERVICE,
        `The SMTP server ${host} could not be reached (${e.code}): check the host and port, and that this machine may connect to it.`,
      );
    case "EENVELOPE":
      return new ExternalError("invalid_input", SERVICE, `The SMTP server refused the sender or a recipient.${said}`, {
        status: e.responseCode,
        remoteMessage: e.response,
      });
    default:
      return new ExternalError(
        "remote",
        SERVICE,
        `The SMTP server refused the message${e.responseCode ? ` (${e.responseCode})` : ""}.${said || ` ${e.message ?? ""}`}`,
        { status: e.responseCode, remoteMessage: e.response },
      );
  }
}

async function send(connection: ConnectionSettings, ctx: ConnectorContext, notification: Notification): Promise<void> {
  const mail = emailBodies(notification);
  const host = String(connection.settings.host ?? "");
  const t = transport(connection, ctx);
  try {
    await t.sendMail({ from: String(connection.settings.from), to: recipients(String(connection.settings.to ?? "")), ...mail });
    ctx.logger.debug("e-mail sent", { host, event: notification.event });
  } catch (err) {
    throw classify(err, host);
  } finally {
    t.close();
  }
}

export const email: Connector = {
  multiInstance: true,
  card: {
    kind: "email",
    name: "E-mail",
    category: "collaboration",
    summary: "Notifications by e-mail through your SMTP server.",
    overview: {
      description: "Send Patchbay's notifications by e-mail through your own SMTP server.",
      benefits: ["Works wherever your team reads mail", "Plain text and HTML, with a link back to Patchbay"],
      requirements: ["An SMTP server, its port and TLS mode, and, where required, a user name and password"],
      docs: [{ label: "RFC 5321: SMTP", url: "https://www.rfc-editor.org/rfc/rfc5321" }],
    },
  },
  fields: [
    {
      name: "host",
      label: "SMTP host",
      type: "text",
      required: true,
      glance: true,
      editableWhenConnected: true,
      destination: true,
      example: "smtp.example.com",
      validate: (v) => (/^[\w.-]+$/.test(v) ? undefined : "Enter a host name or address, without a scheme or port."),
    },
    {
      name: "port",
      label: "Port",
      type: "text",
      editableWhenConnected: true,
      destination: true,
      example: "587",
      validate: (v) => (/^\d{1,5}$/.test(v) && Number(v) > 0 && Number(v) < 65536 ? undefined : "A port is a number from 1 to 65535."),
    },
    {
      name: "tls",
      label: "TLS",
      type: "select",
      editableWhenConnected: true,
      options: [
        { value: "starttls", label: "STARTTLS (usually port 587)" },
        { value: "tls", label: "TLS from the start (usually port 465)" },
        { value: "none", label: "None (a relay on a trusted network, port 25)" },
      ],
    },
    { name: "username", label: "User name", type: "text", editableWhenConnected: true, help: "Leave empty for a relay that needs no sign-in." },
    { name: "password", label: "Password", type: "secret", editableWhenConnected: true },
    { name: "from", label: "From", type: "email", required: true, editableWhenConnected: true, example: "patchbay@example.com" },
    {
      name: "to",
      label: "To",
      type: "text",
      required: true,
      glance: true,
      editableWhenConnected: true,
      example: "security@example.com, oncall@example.com",
      validate: (v) => (recipients(v).every((r) => isEmailAddress(r)) ? undefined : "Enter e-mail addresses separated by commas."),
    },
    ...RULE_FIELDS,
  ],
  defaultName: (settings) => `E-mail to ${String(settings.to ?? "").split(/[,;\s]+/)[0] ?? ""}`.trim(),
  async test(connection, ctx) {
    await send(connection, ctx, testNotification(new Date()));
    return { message: `The SMTP server accepted a test message to ${recipients(String(connection.settings.to ?? "")).join(", ")}.` };
  },
  troubleshoot(error) {
    if (error.kind === "auth")
      return {
        title: "Connection Failed — the SMTP server refused the sign-in",
        steps: ["Check the user name and password; some providers need an app password.", "Check the TLS mode: many servers only accept a password over TLS."],
      };
    if (error.kind === "unreachable") return { title: "Connection Failed — SMTP server unreachable", steps: [error.message] };
    return undefined;
  },
  notifier: { send },
};
