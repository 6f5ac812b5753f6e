// Remediations: the pull/merge requests linked to findings, with their state, repository,
// the findings each fixes, and links to both.
import { Hono } from "hono";
import type { RemediationState } from "../db/schema.js";
import { listRemediations } from "../remediation/store.js";
import type { AppDeps, AppEnv } from "./context.js";
import { render } from "./render.js";

const STATES: RemediationState[] = ["open", "merged", "closed"];

export function remediationRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/remediations", async (c) => {
    const state = STATES.find((s) => s === c.req.query("state"));
    const rows = await listRemediations(deps.db, { state, limit: 200 });
    return render(c, deps, "./remediations", { state, states: STATES, rows });
  });
  return app;
}
