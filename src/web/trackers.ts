// Issue trackers: the Issue Tracker Mappings & Assignments page, Manage Project for one
// tracker integration (list, Add Project, Edit, Delete), the mapping form loaded from the
// tracker's own projects, ticket types, fields and statuses, assignments with their push
// mode, the error table with Retry, and bulk push progress.
import type { Context } from "hono";
import { Hono } from "hono";
import { randomBytes } from "node:crypto";
import { connectorContext } from "../connectors/context.js";
import type { TicketTarget, TrackerChoice, TrackerField, TrackerSession } from "../connectors/types.js";
import type { TrackerMapping } from "../db/schema.js";
import { ExternalError } from "../http.js";
import { connectionOf } from "../integrations/reused.js";
import { type Connected, findIntegration, listConnected, loadConnected, setIntegrationSecrets } from "../integrations/store.js";
import { newestFindingId, previewFinding } from "../findings/store.js";
import { reachableRepositories, repositoryIdSet } from "../scm/store.js";
import { SEVERITIES } from "../findings/normalize.js";
import { redactText, registerSecret } from "../log.js";
import { PATCHBAY_FIELDS, patchbayFieldsFor } from "../tickets/fields.js";
import { loadSla } from "../findings/sla.js";
import { parseAssignmentForm, parseMappingForm, suggestedMapping, resolutionChoices } from "../tickets/mapping-form.js";
import { eventReceiver, INBOUND_ACTIONS, inboundSettings, LINKED_TICKETS, STILL_DETECTED, suggestedInbound } from "../tickets/inbound.js";
import { latestReconcile, RECONCILE_DIRECTIONS, startReconcile } from "../tickets/reconcile.js";
import { approveLinkByCve, startLinkByCve } from "../tickets/link.js";
import { planAssignment, planMappingChange } from "../tickets/dry-run.js";
import { estimatePush, paceOf, type PushEstimate } from "../integrations/pacing.js";
import { applyTemplates, compileTemplate, emptyRendering, FINDING_TEMPLATE_FIELDS, TEMPLATE_FIELDS, TemplateError } from "../tickets/templates.js";
import { loadSubject, plain, templateSubjects } from "../tickets/render.js";
import { toHtml } from "../connectors/html.js";
import { retryPushErrors } from "../tickets/push.js";
import { TICKET_STATE_LABEL, TICKET_STATES } from "../tickets/render.js";
import { batchEstimates, batchFailures, findBatch } from "../tickets/batch.js";
import { requestTicketSweep } from "../tickets/sweep.js";
import {
  assignmentLinkedThrough,
  countTickets,
  deleteAssignment,
  deleteMapping,
  findMapping,
  GROUP_BY,
  listAssignments,
  listMappings,
  listPushErrors,
  type MappingData,
  mappingData,
  PUSH_MODES,
  pushErrorTotals,
  saveAssignment,
  saveMapping,
} from "../tickets/store.js";
import { repositoryIds } from "../tickets/subjects.js";
import { recentDeliveries } from "../remediation/deliveries.js";
import type { AppDeps, AppEnv } from "./context.js";
import { readForm } from "./forms.js";
import { isHtmx, redirect, render } from "./render.js";
import { requireAdmin } from "./users.js";
import { audit } from "./audit.js";

/** A tracker integration, loaded once for every route under its prefix. */
type TrackerFound = Connected<"tracker">;
/** A mapping with its tracker, loaded once for every route under the mapping's prefix. */
type MappingFound = TrackerFound & { mapping: TrackerMapping };

type TrackerEnv = { Variables: AppEnv["Variables"] & { found: TrackerFound } };
type MappingEnv = { Variables: AppEnv["Variables"] & { found: MappingFound } };

/**
 * Issue Trackers: the list of trackers and their mappings (/trackers), one tracker's pages
 * (/trackers/<integration id>/…: its projects, two-way sync, new mappings, template previews)
 * and one mapping's pages (/trackers/mappings/<id>/…: assignments, errors, reconciliation,
 * dry runs, linking existing tickets). Each prefix is a sub-app whose middleware loads its
 * tracker or mapping once, or answers 404.
 */
export function trackerRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/trackers", async (c) => {
    const mappings = await listMappings(deps.db);
    const trackers = (await listConnected(deps.db, deps.catalogue, "tracker")).map((t) => t.integration);
    return render(c, deps, "./trackers/index", { mappings, trackers });
  });

  app.get("/trackers/batches/:id", async (c) => {
    const batch = await findBatch(deps.db, Number(c.req.param("id")));
    if (!batch) return notFound(c, deps, "This push is not known; it may have been removed.");
    const partial = isHtmx(c) && c.req.header("hx-target") === "batch-progress";
    const estimates = batch.finished_at ? [] : await batchEstimates(deps.db, deps.catalogue, batch.id);
    // Where the failures are explained: a tracker's one mapping with errors, or its projects page.
    const totals = batch.failed ? await pushErrorTotals(deps.db) : new Map<number, { mappingIds: number[] }>();
    const failures = (batch.failed ? await batchFailures(deps.db, batch.id) : []).map((f) => {
      const mappings = totals.get(f.integrationId)?.mappingIds ?? [];
      return { ...f, href: mappings.length === 1 ? `/trackers/mappings/${mappings[0]}/errors` : `/trackers/${f.integrationId}` };
    });
    return render(c, deps, partial ? "./trackers/batch-progress" : "./trackers/batch", { batch, estimates, failures });
  });

  app.route("/trackers/mappings/:id{[0-9]+}", mappingRoutes(deps));
  app.route("/trackers/:integrationId{[0-9]+}", trackerPages(deps));
  return app;
}

/** Routes under /trackers/<integration id>. */
function trackerPages(deps: AppDeps): Hono<TrackerEnv> {
  const app = new Hono<TrackerEnv>();
  // Admins' only, checked before anything is loaded (a member learns nothing of what exists):
  // every change, and the new-mapping form.
  const admin = requireAdmin(deps);
  app.use("*", (c, next) => (c.req.method === "GET" ? next() : admin(c, next)));
  app.use("/mappings/new", admin);
  app.use("*", async (c, next) => {
    const found = await loadConnected(deps.db, deps.catalogue, Number(c.req.param("integrationId")), "tracker");
    if (!found) return notFound(c, deps);
    c.set("found", found);
    await next();
  });

  const projectsPage = async (
    c: Context<TrackerEnv>,
    found: TrackerFound,
    extra: { sync?: Awaited<ReturnType<typeof twoWaySync>>; outcome?: { ok: boolean; message: string } } = {},
    status: 200 | 422 = 200,
  ) =>
    render(
      c,
      deps,
      "./trackers/projects",
      {
        integration: found.integration,
        connector: found.connector,
        mappings: await listMappings(deps.db, found.integration.id),
        sync: "sync" in extra ? extra.sync : await twoWaySync(deps, found),
        outcome: extra.outcome,
      },
      status,
    );

  app.get("/", (c) => projectsPage(c, c.get("found")));

  // Sets up the tracker's webhook for two-way sync: a secret (made here if there is none),
  // then the tracker's API where the account may; otherwise the steps to do it by hand.
  app.post("/webhook", async (c) => {
    const found = c.get("found");
    const inbound = found.connector.tracker.inbound;
    if (!inbound) return notFound(c, deps);
    const current = await twoWaySync(deps, found);
    if (current?.via)
      return projectsPage(
        c,
        found,
        { sync: current, outcome: { ok: false, message: `Events arrive through ${current.via.name}'s webhook: set it up there.` } },
        422,
      );
    const secrets = deps.vault.openSecrets(found.integration.secrets);
    if (!secrets[inbound.secretField]) {
      secrets[inbound.secretField] = randomBytes(24).toString("base64url");
      await setIntegrationSecrets(deps.db, found.integration.id, deps.vault.sealSecrets(secrets), deps.now());
      registerSecret(secrets[inbound.secretField]!);
    }
    const sync = await twoWaySync(deps, { ...found, integration: { ...found.integration, secrets: deps.vault.sealSecrets(secrets) } });
    let outcome: { ok: boolean; message: string };
    if (!inbound.register) outcome = { ok: false, message: "This tracker's webhooks are set up by hand: follow the steps below." };
    else {
      try {
        const connection = await connectionOf(deps, found.connector, (await findIntegration(deps.db, found.integration.id))!);
        const done = await inbound.register(connection, connectorContext({ ...deps.env, logger: deps.logger.child({ reqId: c.get("requestId") }) }), {
          url: sync!.url,
          secret: secrets[inbound.secretField]!,
          filter: inbound.filter,
        });
        outcome = {
          ok: true,
          message:
            done === "created"
              ? "The webhook was created in the tracker; changes to Patchbay's tickets now come back."
              : "The tracker's webhook was brought up to date.",
        };
      } catch (err) {
        if (!(err instanceof ExternalError)) throw err;
        outcome = { ok: false, message: `${redactText(err.message)} The steps below do it by hand.` };
      }
    }
    deps.logger.info("tracker webhook set up", { integrationId: found.integration.id, ok: outcome.ok });
    return projectsPage(c, found, { sync, outcome });
  });

  app.get("/mappings/new", (c) => mappingForm(c, deps, c.get("found"), undefined, { project: c.req.query("project"), ticketType: c.req.query("ticketType") }));

  app.post("/mappings", (c) => saveMappingForm(c, deps, c.get("found"), undefined));

  // Test render: the templates as typed, against a finding (the newest open one by default).
  app.post("/templates/preview", async (c) => {
    const found = c.get("found");
    const form = await readForm(c);
    const templates = { title: (form.titleTemplate ?? "").slice(0, 2000), description: (form.descriptionTemplate ?? "").slice(0, 20000) };
    const view = { format: found.connector.tracker.descriptionFormat, error: undefined as string | undefined, title: "", html: "", findingId: 0 };
    try {
      for (const t of [templates.title, templates.description]) compileTemplate(t);
      // The same check as saving: every synthetic case and the current findings render a title and description.
      const empty = emptyRendering(templates, await templateSubjects(deps.db, undefined, deps.baseUrl));
      if (empty) throw new TemplateError(empty.message);
      const wanted = Number(form.previewFinding);
      const chosen = Number.isSafeInteger(wanted) && wanted > 0 ? wanted : undefined;
      const findingId = await previewFinding(deps.db, chosen);
      if (findingId === undefined) view.error = chosen ? `There is no finding #${chosen}.` : "There is no open finding to render yet.";
      else {
        const subject = await loadSubject(deps.db, `finding:${findingId}`, [findingId], deps.baseUrl);
        const rendered = applyTemplates(subject!, templates, deps.baseUrl, plain);
        Object.assign(view, { title: rendered.text.title ?? "", html: toHtml(rendered.blocks), findingId });
      }
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      view.error = err.message;
    }
    return render(c, deps, "./trackers/template-preview", view);
  });

  return app;
}

/** Routes under /trackers/mappings/<id>. */
function mappingRoutes(deps: AppDeps): Hono<MappingEnv> {
  const app = new Hono<MappingEnv>();
  // Admins' only, checked before the mapping is loaded: every change, and the edit and delete forms.
  const admin = requireAdmin(deps);
  app.use("*", (c, next) => (c.req.method === "GET" ? next() : admin(c, next)));
  app.use("/edit", admin);
  app.use("/delete", admin);
  app.use("*", async (c, next) => {
    const mapping = await findMapping(deps.db, Number(c.req.param("id")));
    const found = mapping && (await loadConnected(deps.db, deps.catalogue, mapping.integration_id, "tracker"));
    if (!found) return notFound(c, deps);
    c.set("found", { ...found, mapping: mapping! });
    await next();
  });
  const here = (c: Context<MappingEnv>) => `/trackers/mappings/${c.get("found").mapping.id}`;

  app.get("/", (c) => mappingPage(c, deps, c.get("found"), {}));

  app.get("/edit", (c) => {
    const found = c.get("found");
    const data = mappingData(found.mapping);
    return mappingForm(
      c,
      deps,
      found,
      found.mapping.id,
      { project: data.target.project.id, ticketType: c.req.query("ticketType") ?? data.target.ticketType.id },
      data,
    );
  });

  app.post("/", (c) => saveMappingForm(c, deps, c.get("found"), c.get("found").mapping.id));

  app.get("/delete", async (c) => {
    const { mapping, integration } = c.get("found");
    return render(c, deps, "./trackers/delete", { mapping, integration, tickets: await countTickets(deps.db, mapping.id) });
  });

  app.post("/delete", async (c) => {
    const { mapping, integration } = c.get("found");
    await deleteMapping(deps.db, mapping.id);
    deps.logger.info("tracker mapping deleted", { mappingId: mapping.id, by: c.get("user")!.username });
    await audit(c, deps, "mapping.deleted", mapping.name, { mapping: mapping.id });
    return c.redirect(`/trackers/${integration.id}`, 303);
  });

  app.post("/assignments", (c) => saveAssignmentForm(c, deps, c.get("found"), undefined));

  app.post("/assignments/:assignmentId{[0-9]+}", async (c) => {
    const found = c.get("found");
    const assignmentId = Number(c.req.param("assignmentId"));
    if (!(await listAssignments(deps.db, found.mapping.id)).some((a) => a.id === assignmentId)) return notFound(c, deps);
    return saveAssignmentForm(c, deps, found, assignmentId);
  });

  app.post("/assignments/:assignmentId{[0-9]+}/delete", async (c) => {
    await deleteAssignment(deps.db, c.get("found").mapping.id, Number(c.req.param("assignmentId")));
    await audit(c, deps, "assignment.deleted", c.get("found").mapping.name, {
      mapping: c.get("found").mapping.id,
      assignment: Number(c.req.param("assignmentId")),
    });
    return c.redirect(here(c), 303);
  });

  app.get("/errors", async (c) => {
    const { mapping, integration } = c.get("found");
    const showResolved = c.req.query("resolved") === "1";
    const errors = await listPushErrors(deps.db, mapping.id, { resolvedToo: showResolved, limit: 500 });
    return render(c, deps, "./trackers/errors", { mapping, integration, errors, showResolved, retried: c.req.query("retried") });
  });

  app.post("/errors/retry", async (c) => {
    const { mapping } = c.get("found");
    const form = await readForm(c);
    const subjects = await retryPushErrors(deps.db, mapping.id, form.error ? Number(form.error) : undefined, deps.now());
    deps.notifyWorker();
    deps.logger.info("push errors retried", { mappingId: mapping.id, subjects, by: c.get("user")!.username });
    return redirect(c, `${here(c)}/errors?retried=${subjects}`);
  });

  // Reconciliation: start a run, and the panel that follows it (htmx polls it while it runs).
  app.post("/reconcile", async (c) => {
    const { mapping, connector } = c.get("found");
    await startReconcile(deps.db, mapping.id, c.get("user")!.username, deps.now());
    deps.notifyWorker();
    deps.logger.info("reconciliation requested", { mappingId: mapping.id, by: c.get("user")!.username });
    if (!isHtmx(c)) return redirect(c, `${here(c)}#reconcile-heading`);
    return render(c, deps, "./trackers/reconcile", { mapping, nouns: connector.tracker.nouns, ...(await reconcileView(deps, mapping)) });
  });

  app.get("/reconcile", async (c) => {
    const { mapping, connector } = c.get("found");
    // The panel is part of the mapping's page: opened directly, the page it belongs to.
    if (!isHtmx(c)) return c.redirect(`/trackers/mappings/${mapping.id}#reconcile-panel`, 303);
    return render(c, deps, "./trackers/reconcile", { mapping, nouns: connector.tracker.nouns, ...(await reconcileView(deps, mapping)) });
  });

  // Dry runs: what switching an assignment to an automatic mode, or saving a changed mapping,
  // would send — decided as a push decides it, with nothing sent.
  app.post("/preview", async (c) => {
    const found = c.get("found");
    const nouns = found.connector.tracker.nouns;
    const body = (await c.req.parseBody({ all: true })) as Record<string, string | string[]>;
    const parsed = parseAssignmentForm(body, await repositoryIdSet(deps.db));
    if (!parsed.ok) return render(c, deps, "./trackers/dry-run", { error: Object.values(parsed.errors).join(" "), nouns });
    if (parsed.data.pushMode === "explicit")
      return render(c, deps, "./trackers/dry-run", {
        error: "Explicitly Publish Changes pushes nothing by itself: findings go out only with Push to Integrators.",
        nouns,
      });
    const existing = Number(Array.isArray(body.assignmentId) ? body.assignmentId[0] : body.assignmentId);
    const linkedThrough = (existing ? await assignmentLinkedThrough(deps.db, found.mapping.id, existing) : undefined) ?? (await newestFindingId(deps.db));
    const result = await planAssignment(
      deps.db,
      found.mapping.id,
      mappingData(found.mapping),
      {
        repository_ids: parsed.data.repositoryIds ? JSON.stringify(parsed.data.repositoryIds) : null,
        min_severity: parsed.data.minSeverity,
        group_by: parsed.data.groupBy,
        push_mode: parsed.data.pushMode,
        linked_through: linkedThrough,
      },
      deps.baseUrl,
    );
    const estimate = await pushEstimate(deps, found, result.writes);
    return render(c, deps, "./trackers/dry-run", {
      ...result,
      estimate,
      grouped: parsed.data.groupBy !== "finding",
      what: `switching to ${PUSH_MODES[parsed.data.pushMode].label}`,
      nouns,
    });
  });

  app.post("/preview-mapping", async (c) => {
    const found = c.get("found");
    const form = await readForm(c);
    const nouns = found.connector.tracker.nouns;
    let choices: Loaded;
    try {
      choices = await loadChoices(await session(c, deps, found), form.project, form.ticketType);
    } catch (err) {
      if (!(err instanceof ExternalError)) throw err;
      return render(c, deps, "./trackers/dry-run", { error: redactText(err.message), nouns });
    }
    if (!choices.target) return render(c, deps, "./trackers/dry-run", { error: "Choose a project and an issue type from the tracker's lists.", nouns });
    const parsed = parseMappingForm(form, choices.target, choices.fields, choices.statuses, choices.inboundChoices);
    if (!parsed.ok) return render(c, deps, "./trackers/dry-run", { error: `Fix the form first: ${Object.values(parsed.errors).join(" ")}`, nouns });
    const result = await planMappingChange(deps.db, found.mapping.id, parsed.data, deps.baseUrl);
    return render(c, deps, "./trackers/dry-run", {
      ...result,
      estimate: await pushEstimate(deps, found, result.writes),
      grouped: true,
      what: "saving these changes",
      nouns,
    });
  });

  // Links the project's existing tickets whose titles name a CVE to the findings of that CVE.
  app.post("/link-existing", async (c) => {
    await startLinkByCve(deps.db, c.get("found").mapping.id, c.get("user")!.username, deps.now());
    deps.notifyWorker();
    return redirect(c, `${here(c)}#existing-heading`);
  });

  // Approves a link-by-CVE run's proposed links, all of them at once.
  app.post("/link-existing/:runId{[0-9]+}/approve", async (c) => {
    const { mapping } = c.get("found");
    const outcome = await approveLinkByCve(deps.db, mapping.id, Number(c.req.param("runId")), c.get("user")!.username, deps.now());
    deps.logger.info("existing tickets linked", { mappingId: mapping.id, outcome, by: c.get("user")!.username });
    return redirect(c, `${here(c)}#existing-heading`);
  });

  return app;
}

/** The two-way sync panel: where the tracker sends events, whether a secret is set, the last deliveries. */
async function twoWaySync(deps: AppDeps, found: TrackerFound) {
  const inbound = found.connector.tracker.inbound;
  if (!inbound) return undefined;
  const { receiver, via, secretField } = await eventReceiver(deps.db, deps.catalogue, found.integration);
  const url = `${deps.baseUrl}/webhooks/${receiver.kind}/${receiver.id}`;
  const deliveries = await recentDeliveries(deps.db, receiver.id);
  return {
    url,
    via: via ? { name: via.name, href: `/integrations/${via.kind}/${via.id}` } : undefined,
    filter: inbound.filter,
    hasSecret: Boolean(secretField && deps.vault.openSecrets(receiver.secrets)[secretField]),
    canRegister: Boolean(inbound.register) && !via,
    steps: inbound.instructions({ url, filter: inbound.filter }),
    deliveries,
  };
}

/** How long writing this many tickets takes at the tracker's pace, where its service documents limits. */
async function pushEstimate(deps: AppDeps, found: TrackerFound, writes: number): Promise<PushEstimate | undefined> {
  const pace = writes > 0 ? await paceOf(deps.db, found.connector, found.integration) : undefined;
  return pace ? estimatePush(writes, pace) : undefined;
}

async function session<E extends AppEnv>(c: Context<E>, deps: AppDeps, found: TrackerFound): Promise<TrackerSession> {
  const connection = await connectionOf(deps, found.connector, found.integration);
  return found.connector.tracker.session(connection, connectorContext({ ...deps.env, logger: deps.logger.child({ reqId: c.get("requestId") }) }));
}

interface Loaded {
  projects: (TrackerChoice & { key?: string })[];
  ticketTypes: TrackerChoice[];
  target: TicketTarget | undefined;
  fields: TrackerField[];
  statuses: TrackerChoice[];
  /** Statuses, and resolutions where the tracker has them: what the inbound map reads. */
  inboundChoices: TrackerChoice[];
}

/** Asks the tracker for what the form offers at this step; a failure is shown in the form. */
async function loadChoices(s: TrackerSession, projectId: string | undefined, typeId: string | undefined): Promise<Loaded> {
  const projects = await s.projects();
  const project = projects.find((p) => p.id === projectId);
  const ticketTypes = project ? await s.ticketTypes(project) : [];
  const type = ticketTypes.find((t) => t.id === typeId);
  const target = project && type ? { project, ticketType: type } : undefined;
  const [fields, statuses, resolutions] = target ? await Promise.all([s.fields(target), s.statuses(target), s.resolutions?.() ?? []]) : [[], [], []];
  return {
    projects,
    ticketTypes,
    target,
    fields,
    statuses,
    inboundChoices: [...statuses, ...resolutions.map((r) => ({ id: `resolution:${r.id}`, name: `Resolution: ${r.name}` }))],
  };
}

async function mappingForm<E extends AppEnv>(
  c: Context<E>,
  deps: AppDeps,
  found: TrackerFound,
  mappingId: number | undefined,
  choice: { project?: string; ticketType?: string },
  current?: MappingData,
  errors: Record<string, string> = {},
  status: 200 | 422 = 200,
) {
  let loaded: Loaded | undefined;
  let loadError: string | undefined;
  let tracker: TrackerSession | undefined;
  try {
    tracker = await session(c, deps, found);
    loaded = await loadChoices(tracker, choice.project, choice.ticketType);
  } catch (err) {
    loadError = err instanceof ExternalError ? redactText(err.message) : "The tracker could not be read.";
    if (!(err instanceof ExternalError)) deps.logger.error("tracker form load failed", { error: err });
  }
  const sameTarget =
    current && loaded?.target && current.target.project.id === loaded.target.project.id && current.target.ticketType.id === loaded.target.ticketType.id;
  let data = loaded?.target ? (sameTarget ? current! : suggestedMapping(loaded.target, loaded.fields, loaded.statuses, loaded.inboundChoices)) : undefined;
  // A mapping saved before two-way sync existed starts from the suggested reading of its statuses.
  if (data && loaded && Object.keys(data.inbound.map).length === 0) data = { ...data, inbound: suggestedInbound(loaded.inboundChoices, data.statusMap) };
  const view = {
    integration: found.integration,
    connector: found.connector,
    nouns: found.connector.tracker.nouns,
    mappingId,
    action: mappingId ? `/trackers/mappings/${mappingId}` : `/trackers/${found.integration.id}/mappings`,
    formUrl: mappingId ? `/trackers/mappings/${mappingId}/edit` : `/trackers/${found.integration.id}/mappings/new`,
    loaded,
    loadError,
    choice,
    data,
    rows: loaded && data ? formRows(loaded.fields, data) : [],
    resolutions: loaded ? resolutionChoices(loaded.inboundChoices) : [],
    patchbayFields: PATCHBAY_FIELDS,
    severities: SEVERITIES,
    slaDays: await loadSla(deps.db),
    states: TICKET_STATES.map((s) => ({ id: s, label: TICKET_STATE_LABEL[s] })),
    inboundActions: INBOUND_ACTIONS,
    stillDetected: STILL_DETECTED,
    linkedTickets: LINKED_TICKETS,
    reconcileDirections: RECONCILE_DIRECTIONS,
    templateFields: TEMPLATE_FIELDS,
    findingFields: FINDING_TEMPLATE_FIELDS,
    descriptionFormat: found.connector.tracker.descriptionFormat,
    inbound: Boolean(found.connector.tracker.inbound),
    exposure: loaded?.target && data ? tracker?.exposure?.(loaded.target, data.fields) : undefined,
    errors,
  };
  const partial = isHtmx(c) && c.req.header("hx-target") === "mapping-form";
  return render(c, deps, partial ? "./trackers/mapping-form" : "./trackers/mapping", view, status);
}

function formRows(fields: TrackerField[], data: MappingData) {
  return fields.map((field) => {
    const m = data.fields.find((x) => x.fieldId === field.id);
    return {
      field,
      source: m?.source ?? "none",
      value: m?.value ?? "",
      severityMap: m?.severityMap ?? {},
      patchbayOptions: patchbayFieldsFor(field.kind),
    };
  });
}

async function saveMappingForm<E extends AppEnv>(c: Context<E>, deps: AppDeps, found: TrackerFound, mappingId: number | undefined) {
  const form = await readForm(c);
  let loaded: Loaded;
  let tracker: TrackerSession;
  try {
    tracker = await session(c, deps, found);
    loaded = await loadChoices(tracker, form.project, form.ticketType);
  } catch (err) {
    const message = err instanceof ExternalError ? redactText(err.message) : "The tracker could not be read.";
    return mappingForm(
      c,
      deps,
      found,
      mappingId,
      { project: form.project, ticketType: form.ticketType },
      undefined,
      { "": `The mapping was not saved: ${message}` },
      422,
    );
  }
  if (!loaded.target) {
    return mappingForm(
      c,
      deps,
      found,
      mappingId,
      { project: form.project, ticketType: form.ticketType },
      undefined,
      { ticketType: "Choose a project and an issue type from the tracker's lists." },
      422,
    );
  }
  // Checked against the tracker's live fields: what it requires now, what it allows now.
  const parsed = parseMappingForm(form, loaded.target, loaded.fields, loaded.statuses, loaded.inboundChoices);
  if (!parsed.ok) return mappingForm(c, deps, found, mappingId, { project: form.project, ticketType: form.ticketType }, parsed.data, parsed.errors, 422);
  // A template that renders an empty title would make every push of such a finding fail.
  const empty = emptyRendering(parsed.data.templates, await templateSubjects(deps.db, mappingId, deps.baseUrl));
  if (empty) {
    const field = empty.field === "title" ? "titleTemplate" : "descriptionTemplate";
    return mappingForm(c, deps, found, mappingId, { project: form.project, ticketType: form.ticketType }, parsed.data, { [field]: empty.message }, 422);
  }
  // Tickets anyone can read publish the vulnerability: only on purpose.
  const exposed = tracker.exposure?.(loaded.target, parsed.data.fields);
  if (exposed && form.confirmPublic !== "on") {
    return mappingForm(
      c,
      deps,
      found,
      mappingId,
      { project: form.project, ticketType: form.ticketType },
      parsed.data,
      { confirmPublic: `${exposed} Choose a private one, or tick the box to open public tickets anyway.` },
      422,
    );
  }
  const id = await saveMapping(deps.db, found.integration.id, mappingId, parsed.data, deps.now());
  deps.logger.info(mappingId ? "tracker mapping updated" : "tracker mapping added", { mappingId: id, by: c.get("user")!.username });
  await audit(c, deps, "mapping.saved", `mapping ${id}`, { created: !mappingId });
  return redirect(c, `/trackers/mappings/${id}?saved=1`);
}

async function mappingPage<E extends AppEnv>(
  c: Context<E>,
  deps: AppDeps,
  loaded: MappingFound,
  errors: Record<string, string>,
  values: Record<string, unknown> = {},
  status: 200 | 422 = 200,
) {
  const assignments = await listAssignments(deps.db, loaded.mapping.id);
  const repositories = await reachableRepositories(deps.db, 2000);
  const names = new Map(repositories.map((r) => [r.id, r.full_name]));
  const summary = (await listMappings(deps.db, loaded.integration.id)).find((m) => m.id === loaded.mapping.id)!;
  return render(
    c,
    deps,
    "./trackers/mapping-page",
    {
      mapping: loaded.mapping,
      summary,
      data: mappingData(loaded.mapping),
      integration: loaded.integration,
      nouns: loaded.connector.tracker.nouns,
      assignments: assignments.map((a) => {
        const ids = repositoryIds(a);
        return { ...a, repositories: ids ? ids.map((id) => names.get(id) ?? `#${id}`) : null, repositoryIds: ids };
      }),
      repositories,
      pushModes: PUSH_MODES,
      groupBy: GROUP_BY,
      severities: SEVERITIES,
      patchbayFields: PATCHBAY_FIELDS,
      states: TICKET_STATES.map((s) => ({ id: s, label: TICKET_STATE_LABEL[s] })),
      saved: c.req.query("saved") === "1",
      errors,
      values,
      ...(await reconcileView(deps, loaded.mapping)),
    },
    status,
  );
}

async function reconcileView(deps: AppDeps, mapping: TrackerMapping) {
  return {
    reconcile: await latestReconcile(deps.db, mapping.id),
    linking: await latestReconcile(deps.db, mapping.id, true),
    directions: RECONCILE_DIRECTIONS,
    direction: inboundSettings(mapping).reconcile,
  };
}

async function saveAssignmentForm<E extends AppEnv>(c: Context<E>, deps: AppDeps, loaded: MappingFound, assignmentId: number | undefined) {
  const body = (await c.req.parseBody({ all: true })) as Record<string, string | string[]>;
  const parsed = parseAssignmentForm(body, await repositoryIdSet(deps.db));
  if (!parsed.ok) return mappingPage(c, deps, loaded, parsed.errors, { ...body, assignmentId }, 422);
  await saveAssignment(deps.db, loaded.mapping.id, assignmentId, parsed.data, deps.now());
  await requestTicketSweep(deps.db, deps.now());
  deps.notifyWorker();
  deps.logger.info(assignmentId ? "assignment updated" : "assignment added", { mappingId: loaded.mapping.id, by: c.get("user")!.username });
  await audit(c, deps, "assignment.saved", loaded.mapping.name, { mapping: loaded.mapping.id, created: !assignmentId });
  return redirect(c, `/trackers/mappings/${loaded.mapping.id}?saved=1`);
}

function notFound<E extends AppEnv>(
  c: Context<E>,
  deps: AppDeps,
  message = "This tracker mapping does not exist; it may have been deleted. Go back to Issue Trackers.",
) {
  return render(c, deps, "./error", { title: "Not found", message }, 404);
}
