// The Integration Hub: cards grouped by category, the two-tab Integration Dialog, Test
// Connection, Connect/Save, and Disconnect. Every page works as plain links and forms;
// htmx upgrades them to a modal dialog and in-place swaps.
import { feedStates } from "../exploitation/feeds.js";
import type { Context } from "hono";
import { Hono } from "hono";
import { type Health, readHealth } from "../health/integrations.js";
import type { Capability, Connector, SettingValues } from "../connectors/types.js";
import type { Integration } from "../db/schema.js";
import { type Existing, displayValue, parseSettingsForm } from "../integrations/form.js";
import { testConnection, type TestOutcome } from "../integrations/service.js";
import { connectorContext } from "../connectors/context.js";
import {
  deleteIntegration,
  findIntegration,
  integrationSettings,
  listIntegrations,
  loadConnected,
  MAX_NAME_LENGTH,
  renameIntegration,
} from "../integrations/store.js";
import type { AppDeps, AppEnv } from "./context.js";
import { countFindingsOnlyFrom, deleteFindingsOnlyFrom } from "../findings/store.js";
import { readForm } from "./forms.js";
import { isHtmx, redirect, render } from "./render.js";
import { requireAdmin } from "./users.js";
import { callbackUrl, completeAuthorization, startAuthorization } from "../integrations/oauth.js";
import { saveConnection } from "../integrations/connect.js";
import { webhookUrl } from "../scm/webhooks.js";
import { webhookCoverage } from "../scm/store.js";
import { recentDeliveries } from "../remediation/deliveries.js";
import { activeJobs, dedupeKeyOf } from "../jobs/queue.js";
import { latestRuns, syncCounts } from "../findings/sync.js";
import { SYNC_JOB_TYPES, type SyncCapability, type SyncKind, type SyncWords, syncKind } from "../sync-kinds.js";
import type { SyncCounts } from "../findings/import.js";
import { listMappings, pushErrorTotals } from "../tickets/store.js";
import { audit } from "./audit.js";

type Tab = "overview" | "configuration";
type Ctx = Context<AppEnv>;

export const INTEGRATIONS_CHANGED = "integrations-changed";

export function integrationRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const admin = requireAdmin(deps);

  app.get("/integrations", async (c) => {
    const q = (c.req.query("q") ?? "").slice(0, 100);
    const staleFeeds = (await feedStates(deps.db, deps.now())).filter((f) => f.stale);
    return render(c, deps, "./integrations/hub", { q, groups: await hubGroups(deps, q), checklist: await firstRunChecklist(deps), staleFeeds });
  });

  app.get("/integrations/cards", async (c) => {
    const q = (c.req.query("q") ?? "").slice(0, 100);
    return render(c, deps, "./integrations/grid", { q, groups: await hubGroups(deps, q) });
  });

  app.get("/integrations/oauth/callback", async (c) => {
    const outcome = await completeAuthorization(deps, c.req.query(), c.get("user")!.id);
    const connector = outcome.kind ? deps.catalogue.get(outcome.kind) : undefined;
    if (!connector) {
      return render(c, deps, "./error", { title: "Authorization failed", message: outcome.ok ? "Unknown integration." : outcome.message }, 400);
    }
    const existing = outcome.integrationId ? await findIntegration(deps.db, outcome.integrationId) : undefined;
    if (!outcome.ok) return dialog(c, deps, { connector, integration: existing, tab: "configuration", oauthError: outcome.message }, 422);
    const connection = { settings: outcome.settings, secrets: outcome.secrets };
    const tested = await testConnection(
      connector,
      connection,
      connectorContext({ ...deps.env, logger: deps.logger.child({ reqId: c.get("requestId") }) }),
      deps,
    );
    if (!tested.ok) return dialog(c, deps, { connector, integration: existing, tab: "configuration", values: outcome.settings, outcome: tested }, 422);
    const id = await saveConnection(
      deps,
      connector,
      existing,
      { settings: { ...connection.settings, ...tested.result.discovered }, secrets: connection.secrets },
      c.get("user")!.username,
    );
    return c.redirect(`/integrations/${connector.card.kind}/${id}?tab=configuration&saved=1`, 303);
  });

  app.post("/integrations/:kind/oauth/start", admin, async (c) => {
    const connector = deps.catalogue.get(c.req.param("kind")!);
    if (!connector?.oauth) return notFound(c, deps);
    const form = await readForm(c);
    const integration = form.id ? await findIntegration(deps.db, Number(form.id)) : undefined;
    if (integration && integration.kind !== connector.card.kind) return notFound(c, deps);
    const parsed = parseSettingsForm(connector, form, integration ? existingOf(deps, integration) : undefined);
    const oauth = connector.oauth;
    const errors = parsed.ok ? {} : { ...parsed.errors };
    delete errors[oauth.tokenSecret];
    const settings = parsed.ok ? parsed.settings : parsed.values;
    const secrets = parsed.ok ? parsed.secrets : {};
    if (!settings[oauth.clientIdField]) errors[oauth.clientIdField] = `Enter your OAuth application's client ID to connect with ${connector.card.name}.`;
    if (parsed.ok && !secrets[oauth.clientSecretField])
      errors[oauth.clientSecretField] = `Enter your OAuth application's client secret to connect with ${connector.card.name}.`;
    if (Object.keys(errors).length) return dialog(c, deps, { connector, integration, tab: "configuration", values: settings, errors }, 422);
    const location = await startAuthorization(deps, { ...connector, oauth }, { settings, secrets }, c.get("user")!.id, integration?.id ?? null);
    return redirect(c, location);
  });

  app.get("/integrations/card/:kind", async (c) => {
    const group = (await hubGroups(deps, "")).flatMap((g) => g.cards).find((card) => card.kind === c.req.param("kind"));
    if (!group) return notFound(c, deps);
    return render(c, deps, "./integrations/card", { card: group });
  });

  app.post("/integrations/:kind/:id/sync", admin, async (c) => {
    const found = await loadIntegration(c, deps);
    const sync = syncKind(found?.connector);
    if (!found || !sync) return notFound(c, deps);
    await sync.request(deps.db, found.integration.id, deps.now());
    deps.notifyWorker();
    deps.logger.info("scan requested", { integrationId: found.integration.id, by: c.get("user")!.username });
    await audit(c, deps, "integration.sync_requested", found.integration.name);
    if (!isHtmx(c)) return c.redirect("/integrations", 303);
    const card = (await hubGroups(deps, "")).flatMap((g) => g.cards).find((x) => x.kind === found.integration.kind)!;
    return render(c, deps, "./integrations/card", { card });
  });

  app.get("/integrations/:kind/new", (c) => {
    const connector = deps.catalogue.get(c.req.param("kind")!);
    if (!connector) return notFound(c, deps);
    return dialog(c, deps, { connector, tab: parseTab(c.req.query("tab")) });
  });

  app.get("/integrations/:kind/:id", async (c) => {
    const found = await loadIntegration(c, deps);
    if (!found) return notFound(c, deps);
    return dialog(c, deps, {
      connector: found.connector,
      integration: found.integration,
      tab: parseTab(c.req.query("tab"), "configuration"),
      saved: c.req.query("saved") === "1",
    });
  });

  app.post("/integrations/:kind/test", admin, async (c) => {
    const connector = deps.catalogue.get(c.req.param("kind")!);
    if (!connector) return notFound(c, deps);
    const form = await readForm(c);
    const integration = form.id ? await findIntegration(deps.db, Number(form.id)) : undefined;
    if (integration && integration.kind !== connector.card.kind) return notFound(c, deps);
    const existing = integration ? existingOf(deps, integration) : undefined;
    const parsed = parseSettingsForm(connector, form, existing);
    const outcome: TestOutcome | { ok: false; fieldErrors: Record<string, string> } = parsed.ok
      ? await testConnection(connector, parsed, connectorContext({ ...deps.env, logger: deps.logger.child({ reqId: c.get("requestId") }) }), deps)
      : { ok: false, fieldErrors: parsed.errors };
    if (isHtmx(c)) return render(c, deps, "./integrations/test-result", { outcome, connector });
    return dialog(c, deps, {
      connector,
      integration,
      tab: "configuration",
      values: parsed.ok ? parsed.settings : parsed.values,
      errors: parsed.ok ? {} : parsed.errors,
      outcome,
    });
  });

  app.post("/integrations/:kind", admin, async (c) => {
    const connector = deps.catalogue.get(c.req.param("kind")!);
    if (!connector) return notFound(c, deps);
    return save(c, deps, connector, undefined);
  });

  app.post("/integrations/:kind/:id", admin, async (c) => {
    const found = await loadIntegration(c, deps);
    if (!found) return notFound(c, deps);
    return save(c, deps, found.connector, found.integration);
  });

  // A connection's name: unique, and used everywhere it appears (configuration documents find it by a former name too).
  app.post("/integrations/:kind/:id/rename", admin, async (c) => {
    const found = await loadIntegration(c, deps);
    if (!found) return notFound(c, deps);
    const wanted = ((await readForm(c)).name ?? "").slice(0, 200);
    const problem = await renameIntegration(deps.db, found.integration.id, wanted);
    if (problem)
      return dialog(
        c,
        deps,
        { connector: found.connector, integration: found.integration, tab: "configuration", renameError: problem, nameValue: wanted },
        422,
      );
    deps.logger.info("integration renamed", { integrationId: found.integration.id, by: c.get("user")!.username });
    await audit(c, deps, "integration.renamed", found.integration.name, { to: (await findIntegration(deps.db, found.integration.id))?.name });
    c.header("HX-Trigger", INTEGRATIONS_CHANGED);
    const renamed = (await findIntegration(deps.db, found.integration.id))!;
    return dialog(c, deps, { connector: found.connector, integration: renamed, tab: "configuration", renamed: true });
  });

  app.get("/integrations/:kind/:id/disconnect", admin, async (c) => {
    const found = await loadIntegration(c, deps);
    if (!found) return notFound(c, deps);
    const findingsOnly = await countFindingsOnlyFrom(deps.db, found.integration.id);
    return dialog(c, deps, { connector: found.connector, integration: found.integration, tab: "configuration", confirmDisconnect: true, findingsOnly });
  });

  app.post("/integrations/:kind/:id/disconnect", admin, async (c) => {
    const found = await loadIntegration(c, deps);
    if (!found) return notFound(c, deps);
    await deps.db.transaction().execute(async (trx) => {
      await deleteFindingsOnlyFrom(trx, found.integration.id);
      await deleteIntegration(trx, found.integration.id);
    });
    deps.logger.info("integration disconnected", { kind: found.integration.kind, integrationId: found.integration.id, by: c.get("user")!.username });
    await audit(c, deps, "integration.disconnected", found.integration.name, { kind: found.integration.kind });
    if (!isHtmx(c)) return c.redirect("/integrations", 303);
    c.header("HX-Trigger", INTEGRATIONS_CHANGED);
    return dialog(c, deps, { connector: found.connector, tab: "configuration", disconnected: found.integration.name });
  });

  return app;
}

async function save(c: Ctx, deps: AppDeps, connector: Connector, integration: Integration | undefined) {
  const form = await readForm(c);
  const existing = integration ? existingOf(deps, integration) : undefined;
  const parsed = parseSettingsForm(connector, form, existing);
  const hasCredential = (secrets: Record<string, string>) =>
    [connector.oauth!.tokenSecret, ...(connector.oauth!.tokenAlternatives ?? [])].some((name) => secrets[name]);
  if (parsed.ok && connector.oauth && !hasCredential(parsed.secrets)) {
    const field = connector.fields.find((f) => f.name === connector.oauth!.tokenSecret)!;
    const errors = { [field.name]: `Enter the ${field.label}, or use Connect with ${connector.card.name} to authorize by OAuth.` };
    return dialog(c, deps, { connector, integration, tab: "configuration", values: parsed.settings, errors }, 422);
  }
  if (!parsed.ok) {
    return dialog(c, deps, { connector, integration, tab: "configuration", values: parsed.values, errors: parsed.errors }, 422);
  }
  // Connect verifies the credentials first (the seed's "Click Connect to verify"); nothing is stored on failure.
  const ctx = connectorContext({ ...deps.env, logger: deps.logger.child({ reqId: c.get("requestId") }) });
  const outcome = await testConnection(connector, parsed, ctx, deps);
  if (!outcome.ok) {
    return dialog(c, deps, { connector, integration, tab: "configuration", values: parsed.settings, errors: {}, outcome }, 422);
  }
  const id = await saveConnection(
    deps,
    connector,
    integration,
    { settings: { ...parsed.settings, ...outcome.result.discovered }, secrets: parsed.secrets },
    c.get("user")!.username,
  );
  // Which settings changed, by name; a secret only as "replaced", never its value.
  const before = existing?.settings ?? {};
  await audit(c, deps, integration ? "integration.changed" : "integration.connected", (await findIntegration(deps.db, id))?.name ?? connector.card.name, {
    kind: connector.card.kind,
    settings: Object.keys(parsed.settings).filter((k) => JSON.stringify(parsed.settings[k]) !== JSON.stringify(before[k])),
    secrets: Object.keys(parsed.secrets).filter((k) => parsed.secrets[k] && parsed.secrets[k] !== existing?.secrets[k]),
  });
  if (!isHtmx(c)) return c.redirect(`/integrations/${connector.card.kind}/${id}?tab=configuration&saved=1`, 303);
  c.header("HX-Trigger", INTEGRATIONS_CHANGED);
  const saved = (await findIntegration(deps.db, id))!;
  return dialog(c, deps, { connector, integration: saved, tab: "configuration", saved: true });
}

interface DialogState {
  connector: Connector;
  integration?: Integration;
  tab: Tab;
  values?: SettingValues;
  errors?: Record<string, string>;
  outcome?: TestOutcome | { ok: false; fieldErrors: Record<string, string> };
  saved?: boolean;
  confirmDisconnect?: boolean;
  /** Why an OAuth authorization did not connect. */
  oauthError?: string;
  /** Findings only this integration reports, which disconnecting removes. */
  findingsOnly?: number;
  disconnected?: string;
  renamed?: boolean;
  renameError?: string;
  /** The name as typed, shown again beside its error. */
  nameValue?: string;
}

/**
 * Renders the dialog for htmx (the <dialog> element into #dialog-root, or only its content
 * on a tab switch) and as a full page for plain navigation.
 */
async function dialog(c: Ctx, deps: AppDeps, state: DialogState, status: 200 | 422 = 200) {
  const { connector, integration } = state;
  const values = state.values ?? (integration ? integrationSettings(integration) : undefined);
  const storedSecrets = integration?.secrets ? Object.keys(deps.vault.openSecrets(integration.secrets)) : [];
  const linkable = await listIntegrations(deps.db);
  const fields = connector.fields.map((field) => ({
    ...field,
    choices:
      field.type === "integration"
        ? linkable.filter((i) => i.kind === field.integrationKind).map((i) => ({ id: String(i.id), name: i.name }))
        : field.type === "integrations"
          ? linkable
              .filter((i) => i.id !== integration?.id && (!field.integrationCapability || deps.catalogue.get(i.kind)?.[field.integrationCapability]))
              .map((i) => ({ id: String(i.id), name: i.name }))
          : (field.options ?? []).map((o) => ({ id: o.value, name: o.label })),
    value: displayValue(field, values),
    error: state.errors?.[field.name],
    locked: Boolean(integration) && !field.editableWhenConnected,
    stored: field.type === "secret" && storedSecrets.includes(field.name),
  }));
  const base = `/integrations/${connector.card.kind}`;
  const data = {
    connector,
    card: connector.card,
    integration,
    tab: state.tab,
    fields,
    editable: fields.some((f) => !f.locked),
    isAdmin: c.get("user")?.role === "admin",
    outcome: state.outcome,
    saved: state.saved,
    confirmDisconnect: state.confirmDisconnect,
    findingsOnly: state.findingsOnly ?? 0,
    oauthError: state.oauthError,
    oauth: connector.oauth ? { startUrl: `${base}/oauth/start`, callbackUrl: callbackUrl(deps.baseUrl), provider: connector.card.name } : undefined,
    disconnected: state.disconnected,
    renamed: state.renamed,
    renameError: state.renameError,
    nameValue: state.nameValue ?? integration?.name,
    maxNameLength: MAX_NAME_LENGTH,
    dependents: integration
      ? linkable
          .filter((other) =>
            deps.catalogue.get(other.kind)?.fields.some((f) => f.type === "integration" && integrationSettings(other)[f.name] === String(integration.id)),
          )
          .map((other) => other.name)
      : [],
    projects: integration && connector.tracker ? Object.assign(await listMappings(deps.db, integration.id), { nouns: connector.tracker.nouns }) : undefined,
    selfUrl: integration ? `${base}/${integration.id}` : `${base}/new`,
    formAction: integration ? `${base}/${integration.id}` : base,
    testAction: `${base}/test`,
    disconnectUrl: integration ? `${base}/${integration.id}/disconnect` : undefined,
    webhook:
      integration && connector.scm
        ? {
            url: webhookUrl(deps.baseUrl, integration),
            instructions: connector.scm.webhook.instructions,
            automatic: values?.webhookAutomatic === true,
            note: typeof values?.webhookNote === "string" ? values.webhookNote : undefined,
            registered: await webhookCoverage(deps.db, integration.id),
            deliveries: await recentDeliveries(deps.db, integration.id),
          }
        : undefined,
  };
  if (isHtmx(c)) {
    const target = c.req.header("hx-target");
    const template = target === "dialog-root" ? "./integrations/dialog" : "./integrations/dialog-content";
    return render(c, deps, template, data, status);
  }
  return render(c, deps, "./integrations/page", data, status);
}

function parseTab(value: string | undefined, fallback: Tab = "overview"): Tab {
  return value === "overview" || value === "configuration" ? value : fallback;
}

async function loadIntegration(c: Ctx, deps: AppDeps): Promise<{ connector: Connector; integration: Integration } | undefined> {
  const found = await loadConnected(deps.db, deps.catalogue, Number(c.req.param("id")));
  return found?.integration.kind === c.req.param("kind") ? found : undefined;
}

function pushErrorsView(integrationId: number, errors: Awaited<ReturnType<typeof pushErrorTotals>>): { total: number; href: string } | undefined {
  const found = errors.get(integrationId);
  if (!found) return undefined;
  const href = found.mappingIds.length === 1 ? `/trackers/mappings/${found.mappingIds[0]}/errors` : `/trackers/${integrationId}`;
  return { total: found.total, href };
}

function existingOf(deps: AppDeps, integration: Integration): Existing {
  return { settings: integrationSettings(integration), secrets: deps.vault.openSecrets(integration.secrets) };
}

function notFound(c: Ctx, deps: AppDeps) {
  return render(
    c,
    deps,
    "./error",
    { title: "Integration not found", message: "This integration does not exist; it may have been disconnected. Go back to the Integration Hub." },
    404,
  );
}

export interface CardView {
  kind: string;
  name: string;
  summary: string;
  status: "not_connected" | "connected" | "error";
  multiInstance: boolean;
  /** The connector pushes tickets: its menu has Manage Project. */
  tracker: boolean;
  connections: {
    id: number;
    name: string;
    status: "connected" | "error";
    lastError: string | null;
    /** The last daily health check's notes. */
    health: Health | undefined;
    lastSyncAt: string | null;
    glance: { label: string; value: string }[];
    sync: SyncView | undefined;
    /** A tracker's unresolved push errors, with the table that lists them (one mapping's, or the tracker's page). */
    pushErrors: { total: number; href: string } | undefined;
  }[];
  /** A scan is queued or running: the card refreshes itself. */
  syncing: boolean;
}

export interface SyncView {
  /** What a sync does for this connector: a findings scan, a repository list, an image inventory. */
  capability: SyncCapability;
  words: SyncWords;
  active: "queued" | "running" | undefined;
  last:
    { status: string; counts: SyncCounts; pages: number; total: number | null; error: string | null; startedAt: string; finishedAt: string | null } | undefined;
}

/** A step of the first run, in the order the Hub recommends; done once one connection of its kind is connected. */
export interface ChecklistStep {
  label: string;
  why: string;
  done: boolean;
  /** The Hub section (category) to open. */
  anchor: string;
}

/** The Hub's first-run checklist: source control, scanners, a tracker, a messaging tool. Undefined once all are done. */
async function firstRunChecklist(deps: AppDeps): Promise<ChecklistStep[] | undefined> {
  const have = new Set<Capability>();
  for (const integration of await listIntegrations(deps.db)) {
    const connector = deps.catalogue.get(integration.kind);
    if (!connector || integration.status === "error") continue;
    for (const facet of ["scm", "scanner", "tracker", "notifier"] as const) if (connector[facet]) have.add(facet);
  }
  const steps: ChecklistStep[] = [
    { label: "Connect source control", why: "Patchbay learns your repositories, and remediation needs it.", done: have.has("scm"), anchor: "scm" },
    { label: "Add scanners", why: "Findings come from your security scanners.", done: have.has("scanner"), anchor: "scanners" },
    { label: "Connect an issue tracker", why: "Findings become tickets where your teams work.", done: have.has("tracker"), anchor: "collaboration" },
    {
      label: "Connect a messaging tool",
      why: "Hear about new findings and failures in chat or by e-mail.",
      done: have.has("notifier"),
      anchor: "collaboration",
    },
  ];
  return steps.every((s) => s.done) ? undefined : steps;
}

async function hubGroups(deps: AppDeps, q: string) {
  const integrations = await listIntegrations(deps.db);
  const runs = new Map((await latestRuns(deps.db)).map((r) => [r.integration_id, r]));
  const active = await activeJobs(deps.db, SYNC_JOB_TYPES);
  const syncOf = (integration: Integration, sync: SyncKind): SyncView => {
    const run = runs.get(integration.id);
    return {
      capability: sync.capability,
      words: sync.words,
      active: active.get(dedupeKeyOf(sync.job, { integrationId: integration.id }) ?? null),
      last: run && {
        status: run.status,
        counts: syncCounts(run),
        pages: run.pages,
        total: run.total,
        error: run.error,
        startedAt: run.started_at,
        finishedAt: run.finished_at,
      },
    };
  };
  const errors = await pushErrorTotals(deps.db);
  const needle = q.trim().toLowerCase();
  return deps.catalogue
    .byCategory()
    .map(({ category, connectors }) => ({
      category,
      cards: connectors
        .filter((c) => !needle || `${c.card.name} ${c.card.summary} ${category.title}`.toLowerCase().includes(needle))
        .map((connector) =>
          cardView(
            connector,
            integrations.filter((i) => i.kind === connector.card.kind),
            syncOf,
            errors,
          ),
        ),
    }))
    .filter((group) => group.cards.length > 0);
}

function cardView(
  connector: Connector,
  integrations: Integration[],
  syncOf: (integration: Integration, sync: SyncKind) => SyncView,
  errors: Awaited<ReturnType<typeof pushErrorTotals>>,
): CardView {
  const sync = syncKind(connector);
  const connections = integrations.map((integration) => {
    const settings = integrationSettings(integration);
    return {
      id: integration.id,
      name: integration.name,
      status: integration.status,
      lastError: integration.last_error,
      health: readHealth(integration.health),
      lastSyncAt: integration.last_sync_at,
      glance: connector.fields
        .filter((f) => f.glance)
        .map((f) => ({ label: f.label, value: f.type === "checkbox" ? (settings[f.name] ? "On" : "Off") : String(settings[f.name] || f.defaultValue || "") })),
      sync: sync ? syncOf(integration, sync) : undefined,
      pushErrors: pushErrorsView(integration.id, errors),
    };
  });
  const status = connections.length === 0 ? "not_connected" : connections.some((c) => c.status === "error") ? "error" : "connected";
  return {
    kind: connector.card.kind,
    name: connector.card.name,
    summary: connector.card.summary,
    status,
    multiInstance: connector.multiInstance,
    tracker: Boolean(connector.tracker),
    connections,
    syncing: connections.some((c) => c.sync?.active !== undefined),
  };
}
