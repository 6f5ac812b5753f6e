// Credential and permission health, daily: what the connector can tell (a token's expiry,
// scopes it lacks) and, for a tracker, whether its mappings still fit the tracker (the mapped
// statuses still in the workflow, the mapped fields still on the screen). The notes show on the
// card; a new warning is sent as a notification, before pushes start failing.
import { loadConnected, setIntegrationHealth } from "../integrations/store.js";
import type { Services } from "../services.js";
import { sql } from "kysely";
import { connectorContext } from "../connectors/context.js";
import type { HealthNote } from "../connectors/types.js";
import type { Db } from "../db/schema.js";
import { ExternalError } from "../http.js";
import { enqueue, jobKind, perIntegration } from "../jobs/queue.js";
import type { JobHandler } from "../jobs/worker.js";
import { redactText } from "../log.js";
import { publish } from "../jobs/events.js";
import { validateMapping } from "../tickets/fields.js";
import { openTracker } from "../tickets/push.js";
import { TICKET_STATE_LABEL, type TicketState } from "../tickets/render.js";
import { mappingData } from "../tickets/store.js";
import { setWebhookRegistered } from "../scm/store.js";
import { connectionOf } from "../integrations/reused.js";
import { withoutTrailingSlash } from "../text.js";

export const HEALTH_JOB = jobKind<{ integrationId: number }>("integration.health", {
  label: "Health check",
  maxAttempts: 2,
  ...perIntegration("integration.health"),
});
/** Repositories whose webhook is looked for each day. */
const WEBHOOK_SAMPLE = 5;

export interface Health {
  checkedAt: string;
  notes: HealthNote[];
}

export function readHealth(value: string | null): Health | undefined {
  return value ? (JSON.parse(value) as Health) : undefined;
}

export async function enqueueHealthChecks(db: Db, now: Date): Promise<void> {
  for (const { id } of await db.selectFrom("integrations").select("id").execute()) {
    await enqueue(db, HEALTH_JOB, { integrationId: id }, now);
  }
}

export function healthHandler(deps: Services): JobHandler<{ integrationId: number }> {
  return async ({ payload, logger }) => {
    const { integrationId } = payload;
    const found = await loadConnected(deps.db, deps.catalogue, integrationId);
    if (!found) return;
    const { integration, connector } = found;
    const notes: HealthNote[] = [];
    const problem = (err: unknown) => {
      if (!(err instanceof ExternalError)) throw err;
      notes.push({ level: "error", message: redactText(err.message) });
    };
    if (connector.health) {
      try {
        notes.push(...(await connector.health(await connectionOf(deps, connector, integration), connectorContext({ ...deps.env, logger }), deps.now())));
      } catch (err) {
        problem(err);
      }
    }
    // Webhooks Patchbay added: still there? (A few repositories a day; a missing one is added back by the next sync.)
    const webhook = connector.scm?.webhook;
    if (webhook?.registered) {
      const url = `${withoutTrailingSlash(deps.baseUrl)}/webhooks/${integration.kind}/${integration.id}`;
      const sample = await deps.db
        .selectFrom("repositories")
        .select(["id", "full_name"])
        .where("integration_id", "=", integration.id)
        .where("accessible", "=", 1)
        .where("webhook_registered_at", "is not", null)
        .orderBy(sql`random()`)
        .limit(WEBHOOK_SAMPLE)
        .execute();
      for (const repo of sample) {
        try {
          if (await webhook.registered(await connectionOf(deps, connector, integration), connectorContext({ ...deps.env, logger }), repo.full_name, url))
            continue;
          notes.push({
            level: "warning",
            message: `Patchbay's webhook is gone from ${repo.full_name}: pull request events stop arriving. The next repository sync adds it back.`,
          });
          await setWebhookRegistered(deps.db, repo.id, null);
        } catch (err) {
          problem(err);
          break;
        }
      }
    }
    const inbound = connector.tracker?.inbound;
    if (inbound?.registered && deps.vault.openSecrets(integration.secrets)[inbound.secretField]) {
      const url = `${withoutTrailingSlash(deps.baseUrl)}/webhooks/${integration.kind}/${integration.id}`;
      try {
        if ((await inbound.registered(await connectionOf(deps, connector, integration), connectorContext({ ...deps.env, logger }), url)) === false) {
          notes.push({
            level: "warning",
            message: `The tracker no longer has Patchbay's webhook (${url}): changes made there stop coming back. Set it up again on the Trackers page.`,
          });
        }
      } catch (err) {
        problem(err);
      }
    }
    if (connector.tracker) {
      for (const mapping of await deps.db.selectFrom("tracker_mappings").select(["id", "name"]).where("integration_id", "=", integration.id).execute()) {
        try {
          const handle = (await openTracker(deps, mapping.id, logger))!;
          const data = mappingData(handle.mapping);
          const [statuses, fields] = await Promise.all([handle.session.statuses(data.target), handle.session.fields(data.target)]);
          const present = new Set(statuses.map((s) => s.id));
          for (const [state, id] of Object.entries(data.statusMap) as [TicketState, string][]) {
            if (!present.has(id))
              notes.push({
                level: "error",
                message: `${mapping.name}: the workflow no longer has the status "${data.statusNames[id] ?? id}" that tickets move to when ${TICKET_STATE_LABEL[state].toLowerCase()}. Edit the mapping's status map.`,
              });
          }
          for (const message of Object.values(validateMapping(data.fields, fields))) notes.push({ level: "error", message: `${mapping.name}: ${message}` });
        } catch (err) {
          problem(err);
        }
      }
    }
    const previous = readHealth(integration.health);
    const known = new Set((previous?.notes ?? []).map((n) => n.message));
    const fresh = notes.filter((n) => !known.has(n.message));
    await setIntegrationHealth(deps.db, integration.id, JSON.stringify({ checkedAt: deps.now().toISOString(), notes } satisfies Health));
    if (fresh.length) await publish(deps.db, { type: "integration.warning", integrationId: integration.id, notes: fresh }, deps.now());
    logger.info("integration health checked", { integrationId, notes: notes.length, new: fresh.length });
  };
}
