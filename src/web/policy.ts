// Settings → Remediation policy (admins only): the rules, written as YAML (the configuration
// document's `policy.rules`). Changed rules are a proposal first: a durable job dry-runs them over
// every finding (the page shows, per rule, what they match, decide and undo, and a sample);
// only then can they be saved, and a rescore applies them.
import { type Context, Hono } from "hono";
import { stringify } from "yaml";
import { enqueue } from "../jobs/queue.js";
import { RESCORE_JOB } from "../jobs/events.js";
import { readYaml } from "../configuration/document.js";
import { ACTIONS, readRules, writeRules } from "../policy/rules.js";
import { loadPolicyRules, mappingProblems, savePolicyRules } from "../policy/apply.js";
import { POLICY_DRY_RUN_JOB, policyProposals } from "../policy/dry-run.js";
import type { AppDeps, AppEnv } from "./context.js";
import { readForm } from "./forms.js";
import { isHtmx, redirect, render } from "./render.js";
import { requireAdmin } from "./users.js";
import { audit } from "./audit.js";

/** The rules' text at most (a policy is a page of YAML; forms stop at 64 KB anyway). */
const MAX_TEXT = 60 * 1024;

const EXAMPLE = `- name: Dev-only transitive lows
  when:
    severity: [low, info]
    scope: [development, test]
    dependency: transitive
  action: accept_risk
  reason: Development-only transitive dependency; not shipped.
  days: 90
- name: Known exploited to the on-call project
  when:
    kev: true
  action: push_to
  mapping: Security on-call
`;

export function policyRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("/settings/policy", requireAdmin(deps));
  app.use("/settings/policy/*", requireAdmin(deps));

  const view = async (c: Context<AppEnv>, extra: Record<string, unknown> = {}) => {
    const rules = await loadPolicyRules(deps.db);
    const proposal = await policyProposals.load(deps.db);
    const yamlOf = (list: typeof rules) => (list.length ? stringify(writeRules(list), { lineWidth: 0 }) : "");
    return {
      rules,
      proposal,
      text: yamlOf(proposal?.value ?? rules),
      example: EXAMPLE,
      actions: ACTIONS,
      errors: [] as string[],
      saved: c.req.query("saved") === "1",
      unchanged: c.req.query("unchanged") === "1",
      ...extra,
    };
  };
  const page = async (c: Context<AppEnv>, extra: Record<string, unknown> = {}, status: 200 | 409 | 422 = 200) =>
    render(c, deps, "./policy", await view(c, extra), status);

  app.get("/settings/policy", (c) => page(c));

  app.get("/settings/policy/dry-run", async (c) =>
    isHtmx(c) ? render(c, deps, "./partials/policy-dry-run", await view(c)) : redirect(c, "/settings/policy#dry-run"),
  );

  app.post("/settings/policy/dry-run", async (c) => {
    const text = (await readForm(c)).rules ?? "";
    if (text.length > MAX_TEXT)
      return page(
        c,
        { text: text.slice(0, 2000), errors: ["The rules are longer than 60 KB: a policy is far shorter. Split long lists into fewer, broader rules."] },
        422,
      );
    const read = text.trim() ? readYaml(text) : { ok: true as const, value: [] };
    if (!read.ok) return page(c, { text, errors: read.errors }, 422);
    const { rules, errors } = readRules(read.value);
    const problems = errors.length ? errors : await mappingProblems(deps.db, rules);
    if (problems.length) return page(c, { text, errors: problems }, 422);
    if (JSON.stringify(rules) === JSON.stringify(await loadPolicyRules(deps.db))) {
      await policyProposals.clear(deps.db);
      return redirect(c, "/settings/policy?unchanged=1");
    }
    const at = deps.now().toISOString();
    await policyProposals.save(deps.db, rules, c.get("user")!.username, at);
    await enqueue(deps.db, POLICY_DRY_RUN_JOB, { at }, deps.now());
    deps.notifyWorker();
    return redirect(c, "/settings/policy#dry-run");
  });

  app.post("/settings/policy/save", async (c) => {
    const form = await readForm(c);
    const proposal = await policyProposals.load(deps.db);
    if (!proposal?.result || proposal.at !== form.proposal)
      return page(c, { conflict: "These rules are no longer the ones proposed, or their dry run is not done: review them again." }, 409);
    // A mapping renamed or removed since the dry run.
    const problems = await mappingProblems(deps.db, proposal.value);
    if (problems.length) return page(c, { errors: problems }, 422);
    await savePolicyRules(deps.db, proposal.value);
    await policyProposals.clear(deps.db);
    await enqueue(deps.db, RESCORE_JOB, { all: true }, deps.now());
    deps.notifyWorker();
    deps.logger.info("remediation policy saved", { by: c.get("user")!.username, rules: proposal.value.length });
    await audit(c, deps, "policy.changed", "remediation policy", { rules: proposal.value.map((r) => r.name) });
    return redirect(c, "/settings/policy?saved=1");
  });

  app.post("/settings/policy/discard", async (c) => {
    await policyProposals.clear(deps.db);
    return redirect(c, "/settings/policy");
  });
  return app;
}
