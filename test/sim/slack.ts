// Slack simulator: incoming webhooks (POST /services/T…/B…/secret → 200 "ok", errors as plain
// strings: 400 invalid_payload, 403 action_prohibited, 404 no_service, 410 channel_is_archived)
// and the Web API's chat.postMessage (Bearer token; always HTTP 200 with {ok, error}, except
// 429 with Retry-After when rate-limited). Checks Block Kit's basic rules as Slack does.
import { Hono } from "hono";
import { FaultKnobs } from "./faults.js";

export interface SlackMessage {
  via: "webhook" | "api";
  channel: string;
  text: string;
  blocks: Record<string, unknown>[];
}

export class SlackSim {
  readonly faults = new FaultKnobs();
  /** Webhook paths ("T000/B000/XXXX") → channel, and their state. */
  readonly webhooks = new Map<string, { channel: string; state?: "archived" | "removed" | "prohibited" }>();
  readonly tokens = new Map<string, { revoked?: boolean; scopes: string[] }>();
  /** Channels by name and id, and whether the bot was invited. */
  readonly channels = new Map<string, { id: string; member: boolean; archived?: boolean }>();
  readonly messages: SlackMessage[] = [];

  app(): Hono {
    const app = new Hono();
    app.use(
      "*",
      this.faults.middleware((status) => (status === 429 ? "rate_limited" : "internal_error")),
    );
    app.post("/services/:team/:bot/:secret", async (c) => {
      const hook = this.webhooks.get(`${c.req.param("team")}/${c.req.param("bot")}/${c.req.param("secret")}`);
      if (!hook || hook.state === "removed") return c.text("no_service", 404);
      if (hook.state === "prohibited") return c.text("action_prohibited", 403);
      if (hook.state === "archived") return c.text("channel_is_archived", 410);
      const body = await c.req.json().catch(() => null);
      const problem = checkMessage(body);
      if (problem) return c.text(problem, 400);
      this.messages.push({ via: "webhook", channel: hook.channel, text: body.text, blocks: body.blocks ?? [] });
      return c.text("ok");
    });
    app.post("/api/chat.postMessage", async (c) => {
      const token = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
      const entry = token ? this.tokens.get(token) : undefined;
      if (!token) return c.json({ ok: false, error: "not_authed" });
      if (!entry) return c.json({ ok: false, error: "invalid_auth" });
      if (entry.revoked) return c.json({ ok: false, error: "token_revoked" });
      if (!entry.scopes.includes("chat:write")) return c.json({ ok: false, error: "missing_scope", needed: "chat:write", provided: entry.scopes.join(",") });
      const body = await c.req.json().catch(() => null);
      const channel = this.channels.get(String(body?.channel ?? "").replace(/^#/, "")) ?? [...this.channels.values()].find((ch) => ch.id === body?.channel);
      if (!channel) return c.json({ ok: false, error: "channel_not_found" });
      if (channel.archived) return c.json({ ok: false, error: "is_archived" });
      if (!channel.member) return c.json({ ok: false, error: "not_in_channel" });
      if (checkMessage(body)) return c.json({ ok: false, error: "invalid_blocks" });
      this.messages.push({ via: "api", channel: channel.id, text: body.text, blocks: body.blocks ?? [] });
      return c.json({ ok: true, channel: channel.id, ts: `${Date.now() / 1000}`, message: { text: body.text } });
    });
    return app;
  }
}

/** What Slack refuses: no text and no blocks, a header over 150 characters, more than 10 fields. */
function checkMessage(body: { text?: unknown; blocks?: { type?: string; text?: { text?: string }; fields?: unknown[] }[] } | null): string | undefined {
  if (!body || (typeof body.text !== "string" && !Array.isArray(body.blocks))) return "invalid_payload";
  for (const block of body.blocks ?? []) {
    if (block.type === "header" && (block.text?.text?.length ?? 0) > 150) return "invalid_blocks";
    if (block.type === "section" && (block.fields?.length ?? 0) > 10) return "invalid_blocks";
  }
  return undefined;
}
