// Settings → SLAs (admins only): the remediation deadline per severity, and recomputing the
// existing findings' due dates after a change (a durable job; new findings use the new policy).
import { enqueue, jobActive } from "../jobs/queue.js";
import { type Context, Hono } from "hono";
import { SEVERITIES } from "../findings/normalize.js";
import { loadSla, MAX_SLA_DAYS, parseSlaForm, RECOMPUTE_DUE_JOB, saveSla } from "../findings/sla.js";
import type { AppDeps, AppEnv } from "./context.js";
import { readForm } from "./forms.js";
import { redirect, render } from "./render.js";
import { requireAdmin } from "./users.js";
import { audit } from "./audit.js";

export function slaRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("/settings/sla", requireAdmin(deps));
  app.use("/settings/sla/*", requireAdmin(deps));

  const page = async (c: Context<AppEnv>, extra: Record<string, unknown> = {}, status: 200 | 422 = 200) => {
    const policy = await loadSla(deps.db);
    const values = Object.fromEntries(SEVERITIES.map((s) => [s, policy[s] === null ? "" : String(policy[s])]));
    const running = await jobActive(deps.db, RECOMPUTE_DUE_JOB.type);
    return render(
      c,
      deps,
      "./sla",
      {
        severities: SEVERITIES,
        values,
        errors: {},
        max: MAX_SLA_DAYS,
        saved: c.req.query("saved") === "1",
        recomputing: running || c.req.query("recompute") === "1",
        ...extra,
      },
      status,
    );
  };

  app.get("/settings/sla", (c) => page(c));

  app.post("/settings/sla", async (c) => {
    const parsed = parseSlaForm(await readForm(c));
    if (!parsed.ok) return page(c, { values: parsed.values, errors: parsed.errors }, 422);
    await saveSla(deps.db, parsed.policy);
    deps.logger.info("sla policy saved", { by: c.get("user")!.username, policy: parsed.policy });
    await audit(c, deps, "sla.changed", "SLA policy", { days: parsed.policy });
    return redirect(c, "/settings/sla?saved=1");
  });

  app.post("/settings/sla/recompute", async (c) => {
    await enqueue(deps.db, RECOMPUTE_DUE_JOB, null, deps.now());
    deps.notifyWorker();
    deps.logger.info("due dates recompute requested", { by: c.get("user")!.username });
    return redirect(c, "/settings/sla?recompute=1");
  });
  return app;
}
