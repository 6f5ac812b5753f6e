// Remediations: the pull/merge requests linked to findings, with their state, repository,
// the findings each fixes, and links to both.
import { Hono } from "hono";
import type { RemediationState } from "../db/schema.js";
import { listRemediations } from "../remediation/store.js";
import type { AppDeps, AppEnv } from "./context.js";
import { render } from "./render.js";

const STATES: RemediationState[] = ["open", "merged", "closed"];
/** Findings a row lists before "and N more". */
const FEW = 5;

export function remediationRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/remediations", async (c) => {
    const state = STATES.find((s) => s === c.req.query("state"));
    const rows = await listRemediations(deps.db, { state, limit: 200 });
    return render(c, deps, "./remediations", { state, states: STATES, rows, few: FEW });
  });
  // One pull request with every finding it fixes (the list shows the first few).
  app.get("/remediations/:id{[0-9]+}", async (c) => {
    const rows = await listRemediations(deps.db, { id: Number(c.req.param("id")), limit: 1 });
    if (!rows.length) return render(c, deps, "./error", { title: "Not found", message: "Patchbay knows no such pull request. Go back to Remediations." }, 404);
    return render(c, deps, "./remediations", { states: STATES, rows, one: rows[0], few: Infinity });
  });
  return app;
}
