// Remediations: the pull/merge requests linked to findings, with their state, repository,
// the findings each fixes, and links to both.
import { Hono } from "hono";
import type { RemediationState } from "../db/schema.js";
import type { AppDeps, AppEnv } from "./context.js";
import { render } from "./render.js";

const STATES: RemediationState[] = ["open", "merged", "closed"];

export function remediationRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/remediations", async (c) => {
    const state = STATES.find((s) => s === c.req.query("state"));
    let query = deps.db
      .selectFrom("remediations")
      .innerJoin("repositories", "repositories.id", "remediations.repository_id")
      .selectAll("remediations")
      .select(["repositories.full_name as repository"])
      .orderBy("remediations.updated_at", "desc")
      .orderBy("remediations.id", "desc")
      .limit(200);
    if (state) query = query.where("remediations.state", "=", state);
    const rows = await query.execute();
    const links = rows.length
      ? await deps.db
          .selectFrom("remediation_findings")
          .innerJoin("findings", "findings.id", "remediation_findings.finding_id")
          .select(["remediation_findings.remediation_id", "remediation_findings.reason", "findings.id", "findings.cve", "findings.package", "findings.severity", "findings.status"])
          .where("remediation_findings.remediation_id", "in", rows.map((r) => r.id))
          .orderBy("findings.severity_rank", "desc")
          .execute()
      : [];
    return render(c, deps, "./remediations", {
      state,
      states: STATES,
      rows: rows.map((r) => ({ ...r, findings: links.filter((l) => l.remediation_id === r.id) })),
    });
  });
  return app;
}
