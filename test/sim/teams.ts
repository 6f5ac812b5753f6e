// Microsoft Teams simulator: a Workflows webhook that takes a message with an Adaptive Card
// attachment and answers 202 Accepted; a turned-off workflow answers 404. The card is checked
// for what Teams needs (type AdaptiveCard, a version, a body).
import { Hono } from "hono";
import { FaultKnobs } from "./faults.js";

export class TeamsSim {
  readonly faults = new FaultKnobs();
  /** Workflow ids that accept posts. */
  readonly workflows = new Set<string>();
  readonly cards: { workflow: string; card: Record<string, unknown> }[] = [];

  app(): Hono {
    const app = new Hono();
    app.use(
      "*",
      this.faults.middleware((status) => JSON.stringify({ error: { code: `Simulated${status}`, message: "Simulated error." } })),
    );
    app.post("/workflows/:id/triggers/manual/paths/invoke", async (c) => {
      if (!this.workflows.has(c.req.param("id"))) return c.json({ error: { code: "WorkflowNotFound", message: "The workflow could not be found." } }, 404);
      const body = (await c.req.json().catch(() => null)) as {
        type?: string;
        attachments?: { contentType?: string; content?: Record<string, unknown> }[];
      } | null;
      const card = body?.attachments?.[0];
      if (
        body?.type !== "message" ||
        card?.contentType !== "application/vnd.microsoft.card.adaptive" ||
        card.content?.type !== "AdaptiveCard" ||
        !Array.isArray(card.content.body)
      ) {
        return c.json(
          { error: { code: "InvalidRequestContent", message: "The input body for trigger 'manual' of type 'Request' did not match its schema definition." } },
          400,
        );
      }
      this.cards.push({ workflow: c.req.param("id"), card: card.content });
      return c.body(null, 202);
    });
    return app;
  }
}
