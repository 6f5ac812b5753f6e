// Settings → SLAs (admins only): the remediation deadline per severity or per risk band, and for
// findings in CISA's KEV. A change is a proposal first: a durable job counts the deadlines it
// would move (the page shows the counts and a sample as soon as they are in), and only Apply
// saves it and moves every finding's due date (another durable job).
import { enqueue, jobActive } from "../jobs/queue.js";
import { type Context, Hono } from "hono";
import { SEVERITIES } from "../findings/normalize.js";
import {
  clearSlaProposal,
  loadSla,
  loadSlaProposal,
  MAX_SLA_DAYS,
  parseSlaForm,
  RECOMPUTE_DUE_JOB,
  samePolicy,
  saveSla,
  saveSlaProposal,
  SLA_PREVIEW_JOB,
  slaFormValues,
} from "../findings/sla.js";
import { RISK_BANDS } from "../vuln/severity.js";
import type { AppDeps, AppEnv } from "./context.js";
import { readForm } from "./forms.js";
import { isHtmx, redirect, render } from "./render.js";
import { requireAdmin } from "./users.js";
import { audit } from "./audit.js";

export function slaRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("/settings/sla", requireAdmin(deps));
  app.use("/settings/sla/*", requireAdmin(deps));

  const view = async (c: Context<AppEnv>, extra: Record<string, unknown> = {}) => {
    const policy = await loadSla(deps.db);
    const proposal = await loadSlaProposal(deps.db);
    return {
      severities: SEVERITIES,
      bands: RISK_BANDS,
      policy,
      proposal,
      values: slaFormValues(proposal?.value ?? policy),
      errors: {},
      max: MAX_SLA_DAYS,
      saved: c.req.query("saved") === "1",
      unchanged: c.req.query("unchanged") === "1",
      applying: await jobActive(deps.db, RECOMPUTE_DUE_JOB.type),
      ...extra,
    };
  };
  const page = async (c: Context<AppEnv>, extra: Record<string, unknown> = {}, status: 200 | 409 | 422 = 200) =>
    render(c, deps, "./sla", await view(c, extra), status);

  app.get("/settings/sla", (c) => page(c));

  // The proposal's preview alone: what the page polls while the count runs.
  app.get("/settings/sla/preview", async (c) => (isHtmx(c) ? render(c, deps, "./partials/sla-preview", await view(c)) : redirect(c, "/settings/sla#preview")));

  app.post("/settings/sla", async (c) => {
    const parsed = parseSlaForm(await readForm(c), await loadSla(deps.db));
    if (!parsed.ok) return page(c, { values: parsed.values, errors: parsed.errors }, 422);
    if (samePolicy(parsed.policy, await loadSla(deps.db))) {
      await clearSlaProposal(deps.db);
      return redirect(c, "/settings/sla?unchanged=1");
    }
    const at = deps.now().toISOString();
    await saveSlaProposal(deps.db, parsed.policy, c.get("user")!.username, at);
    await enqueue(deps.db, SLA_PREVIEW_JOB, { at }, deps.now());
    deps.notifyWorker();
    return redirect(c, "/settings/sla#preview");
  });

  app.post("/settings/sla/apply", async (c) => {
    const form = await readForm(c);
    const proposal = await loadSlaProposal(deps.db);
    if (!proposal || proposal.at !== form.proposal)
      return page(c, { conflict: "The policy shown is no longer the one proposed (someone changed or discarded it): review it again." }, 409);
    await saveSla(deps.db, proposal.value);
    await clearSlaProposal(deps.db);
    await enqueue(deps.db, RECOMPUTE_DUE_JOB, null, deps.now());
    deps.notifyWorker();
    deps.logger.info("sla policy saved", { by: c.get("user")!.username, policy: proposal.value });
    await audit(c, deps, "sla.changed", "SLA policy", { policy: proposal.value, changed: proposal.result?.changed ?? null });
    return redirect(c, "/settings/sla?saved=1");
  });

  app.post("/settings/sla/discard", async (c) => {
    await clearSlaProposal(deps.db);
    return redirect(c, "/settings/sla");
  });
  return app;
}
