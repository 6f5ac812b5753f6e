// Fix pull requests beyond one finding: the remediation settings (the default, and each
// repository's own), the Fixes to approve page where the hybrid mode's proposals wait for an
// admin, and "Propose fixes" for the filtered Vulnerabilities table (a finding group: a package,
// a CVE, an asset).
import { type Context, Hono } from "hono";
import { parseFilter } from "../findings/query.js";
import { ExternalError } from "../http.js";
import { redactText } from "../log.js";
import { countFixProposals, dismissFixProposal, findFixProposal, fixablePackages, listFixProposals } from "../remediation/fix-store.js";
import { proposeFixes, type Proposal, unifiedDiff } from "../remediation/proposals.js";
import {
  type EffectiveRemediation,
  loadRemediationDefaults,
  MAX_OPEN_LIMIT,
  MODE_LABEL,
  readSettingsForm,
  REMEDIATION_DEFAULTS,
  REMEDIATION_MODES,
  type RemediationOverride,
  type RemediationSettings,
  repositoryRemediation,
  saveRemediationDefaults,
  saveRepositoryRemediation,
} from "../remediation/settings.js";
import { FIX_SWEEP_JOB, queueOpen } from "../remediation/sweep.js";
import { enqueue } from "../jobs/queue.js";
import { findRepository } from "../scm/store.js";
import type { AppDeps, AppEnv } from "./context.js";
import { readForm } from "./forms.js";
import { redirect, render } from "./render.js";
import { requireAdmin } from "./users.js";
import { audit } from "./audit.js";

/** Packages one "Propose fixes" page reads source control for. */
const PACKAGES_PER_PAGE = 10;
/** Rows a state's list shows. */
const LIST_LIMIT = 500;

export function fixRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const common = { modes: REMEDIATION_MODES, modeLabel: MODE_LABEL, maxOpenLimit: MAX_OPEN_LIMIT };
  const sweepSoon = async () => {
    await enqueue(deps.db, FIX_SWEEP_JOB, null, deps.now());
    deps.notifyWorker();
  };

  app.use("/settings/remediation", requireAdmin(deps));
  const settingsPage = async (c: Context<AppEnv>, extra: { values?: RemediationSettings; errors?: Record<string, string> } = {}, status: 200 | 422 = 200) =>
    render(
      c,
      deps,
      "./fixes/settings",
      { ...common, values: extra.values ?? (await loadRemediationDefaults(deps.db)), errors: extra.errors ?? {}, saved: c.req.query("saved") === "1" },
      status,
    );
  app.get("/settings/remediation", (c) => settingsPage(c));
  app.post("/settings/remediation", async (c) => {
    const { value, errors } = readSettingsForm(await readForm(c), false);
    const values = { ...REMEDIATION_DEFAULTS, ...value };
    if (Object.keys(errors).length) return settingsPage(c, { values, errors }, 422);
    await saveRemediationDefaults(deps.db, values);
    await audit(c, deps, "remediation.changed", "default", { ...values });
    if (values.mode !== "off") await sweepSoon();
    return redirect(c, "/settings/remediation?saved=1");
  });

  const repositoryPage = async (
    c: Context<AppEnv>,
    extra: { own?: RemediationOverride; errors?: Record<string, string> } = {},
    status: 200 | 404 | 422 = 200,
  ) => {
    const id = Number(c.req.param("id"));
    const repo = Number.isSafeInteger(id) ? await findRepository(deps.db, id) : undefined;
    if (!repo)
      return render(c, deps, "./error", { title: "Repository not found", message: "This repository is not known to Patchbay. Go back to Repositories." }, 404);
    const current: EffectiveRemediation = await repositoryRemediation(deps.db, repo.id);
    return render(
      c,
      deps,
      "./fixes/repository",
      {
        ...common,
        repo,
        current,
        own: extra.own ?? current.own,
        defaults: await loadRemediationDefaults(deps.db),
        errors: extra.errors ?? {},
        isAdmin: c.get("user")?.role === "admin",
        saved: c.req.query("saved") === "1",
      },
      status,
    );
  };
  app.get("/repositories/:id{[0-9]+}/remediation", (c) => repositoryPage(c));
  app.post("/repositories/:id{[0-9]+}/remediation", requireAdmin(deps), async (c) => {
    const id = Number(c.req.param("id"));
    if (!(await findRepository(deps.db, id))) return repositoryPage(c, {}, 404);
    const form = await readForm(c);
    const { value, errors } = form.clear ? { value: {}, errors: {} } : readSettingsForm(form, true);
    if (Object.keys(errors).length) return repositoryPage(c, { own: value, errors }, 422);
    await saveRepositoryRemediation(deps.db, id, value);
    await audit(c, deps, "remediation.changed", `repository ${id}`, { ...value });
    await sweepSoon();
    return redirect(c, `/repositories/${id}/remediation?saved=1`);
  });

  app.get("/fixes", async (c) => {
    const [waiting, queued, dismissed, unfixable, counts] = await Promise.all([
      listFixProposals(deps.db, "waiting", LIST_LIMIT),
      listFixProposals(deps.db, "queued", LIST_LIMIT),
      listFixProposals(deps.db, "dismissed", LIST_LIMIT),
      listFixProposals(deps.db, "unfixable", LIST_LIMIT),
      countFixProposals(deps.db),
    ]);
    return render(c, deps, "./fixes/index", {
      waiting,
      queued,
      dismissed,
      unfixable,
      counts,
      limit: LIST_LIMIT,
      defaults: await loadRemediationDefaults(deps.db),
      isAdmin: c.get("user")?.role === "admin",
      done: c.req.query("done"),
    });
  });
  const proposalAction = async (c: Context<AppEnv>, act: (id: number, by: string) => Promise<string | undefined>) => {
    const id = Number(c.req.param("id"));
    const proposal = Number.isSafeInteger(id) ? await findFixProposal(deps.db, id) : undefined;
    if (!proposal) return render(c, deps, "./error", { title: "Not found", message: "Patchbay has no such proposed fix. Go back to Fixes to approve." }, 404);
    const problem = await act(proposal.id, c.get("user")!.username);
    if (problem) return render(c, deps, "./error", { title: "Nothing changed", message: problem }, 409);
    return undefined;
  };
  app.post("/fixes/:id{[0-9]+}/open", requireAdmin(deps), async (c) => {
    const refused = await proposalAction(c, async (id, by) => {
      const proposal = (await findFixProposal(deps.db, id))!;
      if (proposal.state !== "waiting")
        return "This fix is not waiting for approval any more (opened, dismissed or replaced meanwhile). Go back to Fixes to approve.";
      await queueOpen(deps.db, proposal, by, deps.now());
      deps.notifyWorker();
      await audit(c, deps, "fix.requested", `finding ${proposal.finding_id}`, { path: proposal.path, from: "fixes to approve" });
      return undefined;
    });
    return refused ?? redirect(c, "/fixes?done=opened");
  });
  app.post("/fixes/:id{[0-9]+}/dismiss", requireAdmin(deps), async (c) => {
    const refused = await proposalAction(c, async (id, by) => {
      if (!(await dismissFixProposal(deps.db, id, by, deps.now())))
        return "This fix is not waiting for approval any more (opened, dismissed or replaced meanwhile). Go back to Fixes to approve.";
      await audit(c, deps, "fix.dismissed", `proposal ${id}`);
      return undefined;
    });
    return refused ?? redirect(c, "/fixes?done=dismissed");
  });

  // "Propose fixes" on the filtered table: the packages its findings could be fixed in, each
  // proposed as on a finding's own page (read from source control now; nothing is sent).
  app.get("/vulnerabilities/fixes", async (c) => {
    const params = new URL(c.req.url).searchParams;
    const filter = parseFilter(params, deps.now());
    const packages = await fixablePackages(deps.db, filter, PACKAGES_PER_PAGE + 1);
    const results: { findingId: number; fullName: string; package: string; proposals: Proposal[]; reasons: string[]; diffs: string[][] }[] = [];
    for (const p of packages.slice(0, PACKAGES_PER_PAGE)) {
      let result: { proposals: Proposal[]; reasons: string[] };
      try {
        result = await proposeFixes(deps, p.findingId);
      } catch (err) {
        if (!(err instanceof ExternalError)) throw err;
        result = { proposals: [], reasons: [`The repository could not be read: ${redactText(err.message)}`] };
      }
      results.push({ ...p, ...result, diffs: result.proposals.map((x) => x.changes.map(unifiedDiff)) });
    }
    const shown = [...params].filter(([k]) => k !== "after" && k !== "before");
    return render(c, deps, "./fixes/propose", {
      results,
      more: packages.length > PACKAGES_PER_PAGE,
      perPage: PACKAGES_PER_PAGE,
      query: new URLSearchParams(shown).toString(),
      shown: shown.map(([k, v]) => `${k}=${v}`).join(", "),
      isAdmin: c.get("user")?.role === "admin",
    });
  });

  return app;
}
