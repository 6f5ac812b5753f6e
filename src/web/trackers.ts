// Issue trackers: the Issue Tracker Mappings & Assignments page, Manage Project for one
// tracker integration (list, Add Project, Edit, Delete), the mapping form loaded from the
// tracker's own projects, ticket types, fields and statuses, assignments with their push
// mode, the error table with Retry, and bulk push progress.
import type { Context } from "hono";
import { Hono } from "hono";
import { connectorContext } from "../connectors/context.js";
import type { AvailableConnector, TicketTarget, TrackerChoice, TrackerField, TrackerSession } from "../connectors/types.js";
import type { Integration, TrackerMapping } from "../db/schema.js";
import { ExternalError } from "../http.js";
import { linkedOrOwn } from "../integrations/linked.js";
import { SEVERITIES } from "../findings/normalize.js";
import { randomBytes } from "node:crypto";
import { redactText, registerSecret } from "../log.js";
import { PATCHBAY_FIELDS, patchbayFieldsFor } from "../tickets/fields.js";
import { loadSla } from "../findings/sla.js";
import { parseAssignmentForm, parseMappingForm, suggestedMapping, resolutionChoices } from "../tickets/mapping-form.js";
import { eventReceiver, INBOUND_ACTIONS, inboundSettings, LINKED_TICKETS, STILL_DETECTED, suggestedInbound } from "../tickets/inbound.js";
import { latestReconcile, RECONCILE_DIRECTIONS, startReconcile } from "../tickets/reconcile.js";
import { approveLinkByCve, startLinkByCve } from "../tickets/link.js";
import { planAssignment, planMappingChange } from "../tickets/dry-run.js";
import { estimatePush, paceOf, type PushEstimate } from "../integrations/pacing.js";
import { applyTemplates, compileTemplate, FINDING_TEMPLATE_FIELDS, TEMPLATE_FIELDS, TemplateError } from "../tickets/templates.js";
import { loadSubject, plain } from "../tickets/render.js";
import { toHtml } from "../connectors/html.js";
import { enqueuePush } from "../tickets/push.js";
import { TICKET_STATE_LABEL, TICKET_STATES } from "../tickets/render.js";
import { batchEstimates, findBatch } from "../tickets/batch.js";
import { requestTicketSweep } from "../tickets/sweep.js";
import { findMapping, GROUP_BY, listAssignments, listMappings, type MappingData, mappingData, PUSH_MODES, saveAssignment, saveMapping } from "../tickets/store.js";
import { repositoryIds } from "../tickets/subjects.js";
import type { AppDeps, AppEnv } from "./context.js";
import { readForm } from "./forms.js";
import { isHtmx, redirect, render } from "./render.js";
import { requireAdmin } from "./users.js";

type Ctx = Context<AppEnv>;

export function trackerRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const admin = requireAdmin(deps);

  app.get("/trackers", async (c) => {
    const mappings = await listMappings(deps.db);
    const trackers = (await deps.db.selectFrom("integrations").selectAll().orderBy("name").execute()).filter((i) => deps.registry.available(i.kind)?.tracker);
    return render(c, deps, "./trackers/index", { mappings, trackers });
  });

  app.get("/trackers/batches/:id", async (c) => {
    const batch = await findBatch(deps.db, Number(c.req.param("id")));
    if (!batch) return notFound(c, deps, "This push is not known; it may have been removed.");
    const partial = isHtmx(c) && c.req.header("hx-target") === "batch-progress";
    const estimates = batch.finished_at ? [] : await batchEstimates(deps.db, deps.registry, batch.id);
    return render(c, deps, partial ? "./trackers/batch-progress" : "./trackers/batch", { batch, estimates });
  });

  app.get("/trackers/:integrationId{[0-9]+}", async (c) => {
    const found = await loadTracker(c, deps);
    if (!found) return notFound(c, deps);
    return render(c, deps, "./trackers/projects", { integration: found.integration, connector: found.connector, mappings: await listMappings(deps.db, found.integration.id), sync: await twoWaySync(deps, found) });
  });

  // Sets up the tracker's webhook for two-way sync: a secret (made here if there is none),
  // then the tracker's API where the account may; otherwise the steps to do it by hand.
  app.post("/trackers/:integrationId{[0-9]+}/webhook", admin, async (c) => {
    const found = await loadTracker(c, deps);
    const inbound = found?.connector.tracker?.inbound;
    if (!found || !inbound) return notFound(c, deps);
    const current = await twoWaySync(deps, found);
    if (current?.via) {
      return render(c, deps, "./trackers/projects", { integration: found.integration, connector: found.connector, mappings: await listMappings(deps.db, found.integration.id), sync: current, outcome: { ok: false, message: `Events arrive through ${current.via.name}'s webhook: set it up there.` } }, 422);
    }
    const secrets = deps.vault.openSecrets(found.integration.secrets);
    if (!secrets[inbound.secretField]) {
      secrets[inbound.secretField] = randomBytes(24).toString("base64url");
      await deps.db.updateTable("integrations").set({ secrets: deps.vault.sealSecrets(secrets), updated_at: deps.now().toISOString() }).where("id", "=", found.integration.id).execute();
      registerSecret(secrets[inbound.secretField]!);
    }
    const sync = await twoWaySync(deps, { ...found, integration: { ...found.integration, secrets: deps.vault.sealSecrets(secrets) } });
    let outcome: { ok: boolean; message: string };
    if (!inbound.register) outcome = { ok: false, message: "This tracker's webhooks are set up by hand: follow the steps below." };
    else {
      try {
        const link = { db: deps.db, vault: deps.vault, registry: deps.registry, env: deps.connectorEnv, now: deps.now };
        const connection = await linkedOrOwn(link, found.connector, (await deps.db.selectFrom("integrations").selectAll().where("id", "=", found.integration.id).executeTakeFirstOrThrow()));
        const done = await inbound.register(connection, connectorContext({ ...deps.connectorEnv, logger: deps.logger.child({ reqId: c.get("requestId") }) }), { url: sync!.url, secret: secrets[inbound.secretField]!, filter: inbound.filter });
        outcome = { ok: true, message: done === "created" ? "The webhook was created in the tracker; changes to Patchbay's tickets now come back." : "The tracker's webhook was brought up to date." };
      } catch (err) {
        if (!(err instanceof ExternalError)) throw err;
        outcome = { ok: false, message: `${redactText(err.message)} The steps below do it by hand.` };
      }
    }
    deps.logger.info("tracker webhook set up", { integrationId: found.integration.id, ok: outcome.ok });
    return render(c, deps, "./trackers/projects", { integration: found.integration, connector: found.connector, mappings: await listMappings(deps.db, found.integration.id), sync, outcome });
  });

  app.get("/trackers/:integrationId{[0-9]+}/mappings/new", admin, async (c) => {
    const found = await loadTracker(c, deps);
    if (!found) return notFound(c, deps);
    return mappingForm(c, deps, found, undefined, { project: c.req.query("project"), ticketType: c.req.query("ticketType") });
  });

  app.post("/trackers/:integrationId{[0-9]+}/mappings", admin, async (c) => {
    const found = await loadTracker(c, deps);
    if (!found) return notFound(c, deps);
    return saveMappingForm(c, deps, found, undefined);
  });

  app.get("/trackers/mappings/:id{[0-9]+}", async (c) => {
    const loaded = await loadMapping(c, deps);
    if (!loaded) return notFound(c, deps);
    return mappingPage(c, deps, loaded, {});
  });

  app.get("/trackers/mappings/:id{[0-9]+}/edit", admin, async (c) => {
    const loaded = await loadMapping(c, deps);
    if (!loaded) return notFound(c, deps);
    const data = mappingData(loaded.mapping);
    return mappingForm(c, deps, loaded, loaded.mapping.id, { project: data.target.project.id, ticketType: c.req.query("ticketType") ?? data.target.ticketType.id }, data);
  });

  app.post("/trackers/mappings/:id{[0-9]+}", admin, async (c) => {
    const loaded = await loadMapping(c, deps);
    if (!loaded) return notFound(c, deps);
    return saveMappingForm(c, deps, loaded, loaded.mapping.id);
  });

  app.get("/trackers/mappings/:id{[0-9]+}/delete", admin, async (c) => {
    const loaded = await loadMapping(c, deps);
    if (!loaded) return notFound(c, deps);
    const tickets = await deps.db.selectFrom("tickets").select((eb) => eb.fn.countAll<number>().as("n")).where("mapping_id", "=", loaded.mapping.id).executeTakeFirstOrThrow();
    return render(c, deps, "./trackers/delete", { mapping: loaded.mapping, integration: loaded.integration, tickets: Number(tickets.n) });
  });

  app.post("/trackers/mappings/:id{[0-9]+}/delete", admin, async (c) => {
    const loaded = await loadMapping(c, deps);
    if (!loaded) return notFound(c, deps);
    await deps.db.deleteFrom("tracker_mappings").where("id", "=", loaded.mapping.id).execute();
    deps.logger.info("tracker mapping deleted", { mappingId: loaded.mapping.id, by: c.get("user")!.username });
    return c.redirect(`/trackers/${loaded.integration.id}`, 303);
  });

  app.post("/trackers/mappings/:id{[0-9]+}/assignments", admin, async (c) => {
    const loaded = await loadMapping(c, deps);
    if (!loaded) return notFound(c, deps);
    return saveAssignmentForm(c, deps, loaded, undefined);
  });

  app.post("/trackers/mappings/:id{[0-9]+}/assignments/:assignmentId{[0-9]+}", admin, async (c) => {
    const loaded = await loadMapping(c, deps);
    if (!loaded) return notFound(c, deps);
    const assignmentId = Number(c.req.param("assignmentId"));
    if (!(await listAssignments(deps.db, loaded.mapping.id)).some((a) => a.id === assignmentId)) return notFound(c, deps);
    return saveAssignmentForm(c, deps, loaded, assignmentId);
  });

  app.post("/trackers/mappings/:id{[0-9]+}/assignments/:assignmentId{[0-9]+}/delete", admin, async (c) => {
    const loaded = await loadMapping(c, deps);
    if (!loaded) return notFound(c, deps);
    await deps.db.deleteFrom("tracker_assignments").where("id", "=", Number(c.req.param("assignmentId"))).where("mapping_id", "=", loaded.mapping.id).execute();
    return c.redirect(`/trackers/mappings/${loaded.mapping.id}`, 303);
  });

  app.get("/trackers/mappings/:id{[0-9]+}/errors", async (c) => {
    const loaded = await loadMapping(c, deps);
    if (!loaded) return notFound(c, deps);
    const showResolved = c.req.query("resolved") === "1";
    let query = deps.db.selectFrom("push_errors").selectAll().where("mapping_id", "=", loaded.mapping.id).orderBy("id", "desc").limit(500);
    if (!showResolved) query = query.where("resolved_at", "is", null);
    return render(c, deps, "./trackers/errors", { mapping: loaded.mapping, integration: loaded.integration, errors: await query.execute(), showResolved, retried: c.req.query("retried") });
  });

  // Reconciliation: start a run, and the panel that follows it (htmx polls it while it runs).
  app.post("/trackers/mappings/:id{[0-9]+}/reconcile", admin, async (c) => {
    const loaded = await loadMapping(c, deps);
    if (!loaded) return notFound(c, deps);
    await startReconcile(deps.db, loaded.mapping.id, c.get("user")!.username, deps.now());
    deps.notifyWorker();
    deps.logger.info("reconciliation requested", { mappingId: loaded.mapping.id, by: c.get("user")!.username });
    if (!isHtmx(c)) return redirect(c, `/trackers/mappings/${loaded.mapping.id}#reconcile-heading`);
    return render(c, deps, "./trackers/reconcile", { mapping: loaded.mapping, nouns: loaded.connector.tracker!.nouns, ...(await reconcileView(deps, loaded.mapping)) });
  });

  // Dry runs: what switching an assignment to an automatic mode, or saving a changed mapping,
  // would send — decided as a push decides it, with nothing sent.
  app.post("/trackers/mappings/:id{[0-9]+}/preview", admin, async (c) => {
    const loaded = await loadMapping(c, deps);
    if (!loaded) return notFound(c, deps);
    const body = (await c.req.parseBody({ all: true })) as Record<string, string | string[]>;
    const repos = new Set((await deps.db.selectFrom("repositories").select("id").execute()).map((r) => r.id));
    const parsed = parseAssignmentForm(body, repos);
    if (!parsed.ok) return render(c, deps, "./trackers/dry-run", { error: Object.values(parsed.errors).join(" "), nouns: loaded.connector.tracker!.nouns });
    if (parsed.data.pushMode === "explicit") return render(c, deps, "./trackers/dry-run", { error: "Explicitly Publish Changes pushes nothing by itself: findings go out only with Push to Integrators.", nouns: loaded.connector.tracker!.nouns });
    const existing = Number(Array.isArray(body.assignmentId) ? body.assignmentId[0] : body.assignmentId);
    const current = existing ? await deps.db.selectFrom("tracker_assignments").select("linked_through").where("id", "=", existing).where("mapping_id", "=", loaded.mapping.id).executeTakeFirst() : undefined;
    const newest = Number((await deps.db.selectFrom("findings").select((eb) => eb.fn.max("id").as("id")).executeTakeFirst())?.id ?? 0);
    const result = await planAssignment(deps.db, loaded.mapping.id, mappingData(loaded.mapping), {
      repository_ids: parsed.data.repositoryIds ? JSON.stringify(parsed.data.repositoryIds) : null,
      min_severity: parsed.data.minSeverity,
      group_by: parsed.data.groupBy,
      push_mode: parsed.data.pushMode,
      linked_through: current?.linked_through ?? newest,
    }, deps.baseUrl);
    const estimate = await pushEstimate(deps, loaded, result.writes);
    return render(c, deps, "./trackers/dry-run", { ...result, estimate, grouped: parsed.data.groupBy !== "finding", what: `switching to ${PUSH_MODES[parsed.data.pushMode].label}`, nouns: loaded.connector.tracker!.nouns });
  });

  app.post("/trackers/mappings/:id{[0-9]+}/preview-mapping", admin, async (c) => {
    const loaded = await loadMapping(c, deps);
    if (!loaded) return notFound(c, deps);
    const form = await readForm(c);
    const nouns = loaded.connector.tracker!.nouns;
    let choices: Loaded;
    try {
      choices = await loadChoices(await session(c, deps, loaded), form.project, form.ticketType);
    } catch (err) {
      if (!(err instanceof ExternalError)) throw err;
      return render(c, deps, "./trackers/dry-run", { error: redactText(err.message), nouns });
    }
    if (!choices.target) return render(c, deps, "./trackers/dry-run", { error: "Choose a project and an issue type from the tracker's lists.", nouns });
    const parsed = parseMappingForm(form, choices.target, choices.fields, choices.statuses, choices.inboundChoices);
    if (!parsed.ok) return render(c, deps, "./trackers/dry-run", { error: `Fix the form first: ${Object.values(parsed.errors).join(" ")}`, nouns });
    const result = await planMappingChange(deps.db, loaded.mapping.id, parsed.data, deps.baseUrl);
    return render(c, deps, "./trackers/dry-run", { ...result, estimate: await pushEstimate(deps, loaded, result.writes), grouped: true, what: "saving these changes", nouns });
  });

  // Test render: the templates as typed, against a finding (the newest open one by default).
  app.post("/trackers/:integrationId{[0-9]+}/templates/preview", admin, async (c) => {
    const found = await loadTracker(c, deps);
    if (!found) return notFound(c, deps);
    const form = await readForm(c);
    const templates = { title: (form.titleTemplate ?? "").slice(0, 2000), description: (form.descriptionTemplate ?? "").slice(0, 20000) };
    const view = { format: found.connector.tracker!.descriptionFormat, error: undefined as string | undefined, title: "", html: "", findingId: 0 };
    try {
      for (const t of [templates.title, templates.description]) compileTemplate(t);
      const wanted = Number(form.previewFinding);
      const finding = await deps.db
        .selectFrom("findings")
        .select("id")
        .$if(Number.isSafeInteger(wanted) && wanted > 0, (q) => q.where("id", "=", wanted))
        .$if(!(Number.isSafeInteger(wanted) && wanted > 0), (q) => q.where("status", "in", ["open", "in_remediation"]).orderBy("id", "desc"))
        .limit(1)
        .executeTakeFirst();
      if (!finding) view.error = wanted > 0 ? `There is no finding #${wanted}.` : "There is no open finding to render yet.";
      else {
        const subject = await loadSubject(deps.db, `finding:${finding.id}`, [finding.id], deps.baseUrl);
        const rendered = applyTemplates(subject!, templates, deps.baseUrl, plain);
        Object.assign(view, { title: rendered.text.title ?? "", html: toHtml(rendered.blocks), findingId: finding.id });
      }
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      view.error = err.message;
    }
    return render(c, deps, "./trackers/template-preview", view);
  });

  // Links the project's existing tickets whose titles name a CVE to the findings of that CVE.
  app.post("/trackers/mappings/:id{[0-9]+}/link-existing", admin, async (c) => {
    const loaded = await loadMapping(c, deps);
    if (!loaded) return notFound(c, deps);
    await startLinkByCve(deps.db, loaded.mapping.id, c.get("user")!.username, deps.now());
    deps.notifyWorker();
    return redirect(c, `/trackers/mappings/${loaded.mapping.id}#existing-heading`);
  });

  // Approves a link-by-CVE run's proposed links, all of them at once.
  app.post("/trackers/mappings/:id{[0-9]+}/link-existing/:runId{[0-9]+}/approve", admin, async (c) => {
    const loaded = await loadMapping(c, deps);
    if (!loaded) return notFound(c, deps);
    const outcome = await approveLinkByCve(deps.db, loaded.mapping.id, Number(c.req.param("runId")), c.get("user")!.username, deps.now());
    deps.logger.info("existing tickets linked", { mappingId: loaded.mapping.id, outcome, by: c.get("user")!.username });
    return redirect(c, `/trackers/mappings/${loaded.mapping.id}#existing-heading`);
  });

  app.get("/trackers/mappings/:id{[0-9]+}/reconcile", async (c) => {
    const loaded = await loadMapping(c, deps);
    if (!loaded) return notFound(c, deps);
    return render(c, deps, "./trackers/reconcile", { mapping: loaded.mapping, nouns: loaded.connector.tracker!.nouns, ...(await reconcileView(deps, loaded.mapping)) });
  });

  app.post("/trackers/mappings/:id{[0-9]+}/errors/retry", admin, async (c) => {
    const loaded = await loadMapping(c, deps);
    if (!loaded) return notFound(c, deps);
    const form = await readForm(c);
    let query = deps.db.selectFrom("push_errors").select(["id", "subject_key"]).where("mapping_id", "=", loaded.mapping.id).where("resolved_at", "is", null);
    if (form.error) query = query.where("id", "=", Number(form.error));
    const rows = await query.execute();
    const subjects = [...new Set(rows.map((r) => r.subject_key))];
    const now = deps.now();
    await deps.db.transaction().execute(async (trx) => {
      for (const subject of subjects) await enqueuePush(trx, loaded.mapping.id, subject, now, true);
      // Retried rows leave the table; a push that fails again records a new row.
      if (rows.length) await trx.updateTable("push_errors").set({ resolved_at: now.toISOString() }).where("id", "in", rows.map((r) => r.id)).execute();
    });
    deps.notifyWorker();
    deps.logger.info("push errors retried", { mappingId: loaded.mapping.id, subjects: subjects.length, by: c.get("user")!.username });
    return redirect(c, `/trackers/mappings/${loaded.mapping.id}/errors?retried=${subjects.length}`);
  });

  return app;
}

interface TrackerFound {
  integration: Integration;
  connector: AvailableConnector;
}

async function loadTracker(c: Ctx, deps: AppDeps): Promise<TrackerFound | undefined> {
  const integration = await deps.db.selectFrom("integrations").selectAll().where("id", "=", Number(c.req.param("integrationId"))).executeTakeFirst();
  const connector = integration ? deps.registry.available(integration.kind) : undefined;
  return integration && connector?.tracker ? { integration, connector } : undefined;
}

/** The two-way sync panel: where the tracker sends events, whether a secret is set, the last deliveries. */
async function twoWaySync(deps: AppDeps, found: TrackerFound) {
  const inbound = found.connector.tracker?.inbound;
  if (!inbound) return undefined;
  const { receiver, via, secretField } = await eventReceiver(deps.db, deps.registry, found.integration);
  const url = `${deps.baseUrl}/webhooks/${receiver.kind}/${receiver.id}`;
  const deliveries = await deps.db
    .selectFrom("webhook_deliveries")
    .select(["received_at", "event", "outcome", "detail"])
    .where("integration_id", "=", receiver.id)
    .orderBy("id", "desc")
    .limit(10)
    .execute();
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

async function loadMapping(c: Ctx, deps: AppDeps) {
  const mapping = await findMapping(deps.db, Number(c.req.param("id")));
  if (!mapping) return undefined;
  const integration = await deps.db.selectFrom("integrations").selectAll().where("id", "=", mapping.integration_id).executeTakeFirst();
  const connector = integration ? deps.registry.available(integration.kind) : undefined;
  return integration && connector?.tracker ? { mapping, integration, connector } : undefined;
}

async function session(c: Ctx, deps: AppDeps, found: TrackerFound): Promise<TrackerSession> {
  const link = { db: deps.db, vault: deps.vault, registry: deps.registry, env: deps.connectorEnv, now: deps.now };
  const connection = await linkedOrOwn(link, found.connector, found.integration);
  return found.connector.tracker!.session(connection, connectorContext({ ...deps.connectorEnv, logger: deps.logger.child({ reqId: c.get("requestId") }) }));
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
  return { projects, ticketTypes, target, fields, statuses, inboundChoices: [...statuses, ...resolutions.map((r) => ({ id: `resolution:${r.id}`, name: `Resolution: ${r.name}` }))] };
}

async function mappingForm(
  c: Ctx,
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
  const sameTarget = current && loaded?.target && current.target.project.id === loaded.target.project.id && current.target.ticketType.id === loaded.target.ticketType.id;
  let data = loaded?.target ? (sameTarget ? current! : suggestedMapping(loaded.target, loaded.fields, loaded.statuses, loaded.inboundChoices)) : undefined;
  // A mapping saved before two-way sync existed starts from the suggested reading of its statuses.
  if (data && loaded && Object.keys(data.inbound.map).length === 0) data = { ...data, inbound: suggestedInbound(loaded.inboundChoices, data.statusMap) };
  const view = {
    integration: found.integration,
    connector: found.connector,
    nouns: found.connector.tracker!.nouns,
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
    descriptionFormat: found.connector.tracker!.descriptionFormat,
    inbound: Boolean(found.connector.tracker!.inbound),
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

async function saveMappingForm(c: Ctx, deps: AppDeps, found: TrackerFound, mappingId: number | undefined) {
  const form = await readForm(c);
  let loaded: Loaded;
  let tracker: TrackerSession;
  try {
    tracker = await session(c, deps, found);
    loaded = await loadChoices(tracker, form.project, form.ticketType);
  } catch (err) {
    const message = err instanceof ExternalError ? redactText(err.message) : "The tracker could not be read.";
    return mappingForm(c, deps, found, mappingId, { project: form.project, ticketType: form.ticketType }, undefined, { "": `The mapping was not saved: ${message}` }, 422);
  }
  if (!loaded.target) {
    return mappingForm(c, deps, found, mappingId, { project: form.project, ticketType: form.ticketType }, undefined, { ticketType: "Choose a project and an issue type from the tracker's lists." }, 422);
  }
  // Checked against the tracker's live fields: what it requires now, what it allows now.
  const parsed = parseMappingForm(form, loaded.target, loaded.fields, loaded.statuses, loaded.inboundChoices);
  if (!parsed.ok) return mappingForm(c, deps, found, mappingId, { project: form.project, ticketType: form.ticketType }, parsed.data, parsed.errors, 422);
  // Tickets anyone can read publish the vulnerability: only on purpose.
  const exposed = tracker.exposure?.(loaded.target, parsed.data.fields);
  if (exposed && form.confirmPublic !== "on") {
    return mappingForm(c, deps, found, mappingId, { project: form.project, ticketType: form.ticketType }, parsed.data, { confirmPublic: `${exposed} Choose a private one, or tick the box to open public tickets anyway.` }, 422);
  }
  const id = await saveMapping(deps.db, found.integration.id, mappingId, parsed.data, deps.now());
  deps.logger.info(mappingId ? "tracker mapping updated" : "tracker mapping added", { mappingId: id, by: c.get("user")!.username });
  return redirect(c, `/trackers/mappings/${id}?saved=1`);
}

async function mappingPage(c: Ctx, deps: AppDeps, loaded: NonNullable<Awaited<ReturnType<typeof loadMapping>>>, errors: Record<string, string>, values: Record<string, unknown> = {}, status: 200 | 422 = 200) {
  const assignments = await listAssignments(deps.db, loaded.mapping.id);
  const repositories = await deps.db.selectFrom("repositories").select(["id", "full_name"]).where("accessible", "=", 1).orderBy("full_name").limit(2000).execute();
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
      nouns: loaded.connector.tracker!.nouns,
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
  return { reconcile: await latestReconcile(deps.db, mapping.id), linking: await latestReconcile(deps.db, mapping.id, true), directions: RECONCILE_DIRECTIONS, direction: inboundSettings(mapping).reconcile };
}

async function saveAssignmentForm(c: Ctx, deps: AppDeps, loaded: NonNullable<Awaited<ReturnType<typeof loadMapping>>>, assignmentId: number | undefined) {
  const body = (await c.req.parseBody({ all: true })) as Record<string, string | string[]>;
  const repos = new Set((await deps.db.selectFrom("repositories").select("id").execute()).map((r) => r.id));
  const parsed = parseAssignmentForm(body, repos);
  if (!parsed.ok) return mappingPage(c, deps, loaded, parsed.errors, { ...body, assignmentId }, 422);
  await saveAssignment(deps.db, loaded.mapping.id, assignmentId, parsed.data, deps.now());
  await requestTicketSweep(deps.db, deps.now());
  deps.notifyWorker();
  deps.logger.info(assignmentId ? "assignment updated" : "assignment added", { mappingId: loaded.mapping.id, by: c.get("user")!.username });
  return redirect(c, `/trackers/mappings/${loaded.mapping.id}?saved=1`);
}

function notFound(c: Ctx, deps: AppDeps, message = "This tracker mapping does not exist; it may have been deleted. Go back to Issue Trackers.") {
  return render(c, deps, "./error", { title: "Not found", message }, 404);
}
