// Ownership routing: which team a finding belongs to, from what source control already says
// (CODEOWNERS, repository topics), and what that means for its ticket and notifications.
// The team writes one table (Settings → Ownership): an owner ("@acme/payments", an e-mail)
// or a topic ("topic:pci") → assignee, component, labels, notification channel. A
// repository's own override (its Ownership page) wins over the table.
import { readMeta, writeMeta } from "../db/meta.js";
import type { Criticality, Db } from "../db/schema.js";
import { type Codeowners, isOwner, ownersOf } from "./codeowners.js";

export interface RouteRule {
  /** "@org/team", "@user", "name@example.com", or "topic:<name>". */
  match: string;
  /** The tracker's user: a Jira account ID (a username on Data Center), a GitHub login, a GitLab username, an e-mail. */
  assignee: string;
  /** A component (Jira), area path (Azure DevOps) or other choice, by name or ID. */
  component: string;
  labels: string[];
  /** A Slack channel (#name or ID) for notifications about these repositories. */
  channel: string;
  /** How much these repositories matter to the risk score; "" (or absent) leaves it to others. */
  criticality?: Criticality | "";
}

export interface RoutingSettings {
  useCodeowners: boolean;
  useTopics: boolean;
  rules: RouteRule[];
}

export interface RouteOverride {
  assignee: string;
  component: string;
  labels: string[];
  channel: string;
}

export interface Route {
  owners: string[];
  topics: string[];
  assignee: string | null;
  component: string | null;
  labels: string[];
  channel: string | null;
  /** How the values were chosen, in order: shown on the repository's Ownership page and in dry runs. */
  reasons: string[];
}

export const EMPTY_ROUTE: Route = { owners: [], topics: [], assignee: null, component: null, labels: [], channel: null, reasons: [] };

const KEY = "routing.settings";
export const MAX_RULES = 500;
const DEFAULTS: RoutingSettings = { useCodeowners: true, useTopics: true, rules: [] };

export async function loadRouting(db: Db): Promise<RoutingSettings> {
  const value = await readMeta(db, KEY);
  return value ? { ...DEFAULTS, ...(JSON.parse(value) as Partial<RoutingSettings>) } : { ...DEFAULTS, rules: [] };
}

export async function saveRouting(db: Db, settings: RoutingSettings): Promise<void> {
  await writeMeta(db, KEY, JSON.stringify(settings));
}

export function parseOverride(json: string | null): RouteOverride | null {
  if (!json) return null;
  const o = JSON.parse(json) as Partial<RouteOverride>;
  return { assignee: o.assignee ?? "", component: o.component ?? "", labels: o.labels ?? [], channel: o.channel ?? "" };
}

export const overrideIsEmpty = (o: RouteOverride | null) => !o || (!o.assignee && !o.component && !o.channel && o.labels.length === 0);

/** Labels as typed in a form: comma or space separated, trimmed, no duplicates, no spaces inside. */
export function parseLabels(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\s,]+/)
        .map((l) => l.trim())
        .filter(Boolean),
    ),
  ].slice(0, 20);
}

/** Says why a routed channel is not one the notifiers can post to (the connector catalogue knows). */
export type ChannelCheck = (channel: string) => string | undefined;

export function validateRule(rule: RouteRule, channelProblem: ChannelCheck): string | undefined {
  const m = rule.match.trim();
  if (!m) return "Enter an owner (@org/team, @user, an e-mail) or topic:<name>.";
  if (!/^topic:[a-z0-9][a-z0-9-]{0,49}$/i.test(m) && !isOwner(m)) {
    return `"${m.slice(0, 60)}" is not an owner as CODEOWNERS writes them (@org/team, @user, name@example.com) or a topic (topic:pci).`;
  }
  if (rule.criticality && !CRITICALITIES.includes(rule.criticality))
    return `Criticality is high, normal or low (or empty), not "${String(rule.criticality).slice(0, 20)}".`;
  if (!rule.assignee && !rule.component && !rule.channel && rule.labels.length === 0 && !rule.criticality)
    return `Give ${m} an assignee, a component, labels, a channel or a criticality.`;
  for (const [name, value] of [
    ["Assignee", rule.assignee],
    ["Component", rule.component],
    ["Channel", rule.channel],
  ] as const) {
    if (value.length > 200) return `${name} is too long: at most 200 characters.`;
    if (/[\u0000-\u001f]/.test(value)) return `${name} contains control characters.`;
  }
  return rule.channel ? channelProblem(rule.channel) : undefined;
}

export const CRITICALITIES: readonly Criticality[] = ["high", "normal", "low"];

/** A repository's (or an image's) criticality for the risk score, and where it comes from. */
export interface CriticalityOf {
  criticality: Criticality;
  from: string;
}

export const DEFAULT_CRITICALITY: CriticalityOf = { criticality: "normal", from: "the default: no criticality set" };

const RANK: Record<Criticality, number> = { high: 3, normal: 2, low: 1 };

/**
 * A repository's criticality: its own setting; else the highest a row of the ownership table
 * gives one of its topics or the owners of its root files (as far as topics and CODEOWNERS are
 * in use); else normal.
 */
export function criticalityOf(
  settings: RoutingSettings,
  repo: { criticality: Criticality | null; topics: string | null; codeowners: string | null },
): CriticalityOf {
  if (repo.criticality) return { criticality: repo.criticality, from: "set on the repository" };
  let best: CriticalityOf | undefined;
  const consider = (match: string, why: string) => {
    const rule = settings.rules.find((r) => r.criticality && r.match.toLowerCase() === match.toLowerCase());
    if (rule?.criticality && (!best || RANK[rule.criticality] > RANK[best.criticality]))
      best = { criticality: rule.criticality, from: `${why}, in Settings → Ownership` };
  };
  if (settings.useTopics && repo.topics) for (const t of JSON.parse(repo.topics) as string[]) consider(`topic:${t}`, `topic ${t}`);
  if (settings.useCodeowners && repo.codeowners) for (const o of ownersOf(JSON.parse(repo.codeowners) as Codeowners, null)) consider(o, `owner ${o}`);
  return best ?? DEFAULT_CRITICALITY;
}

/** Whether any row of the table gives a criticality (else only repositories' own settings count). */
export const rulesGiveCriticality = (settings: RoutingSettings) => settings.rules.some((r) => r.criticality);

/** The criticality of repositories: all of them that have one other than the default, or those asked for. */
export async function repositoryCriticalities(db: Db, ids?: number[]): Promise<Map<number, CriticalityOf>> {
  const settings = await loadRouting(db);
  const out = new Map<number, CriticalityOf>();
  if (ids && !ids.length) return out;
  let query = db.selectFrom("repositories").select(["id", "criticality", "topics", "codeowners"]);
  if (ids) query = query.where("id", "in", ids);
  else if (!rulesGiveCriticality(settings)) query = query.where("criticality", "is not", null);
  for (const row of await query.execute()) {
    const c = criticalityOf(settings, row);
    if (c !== DEFAULT_CRITICALITY) out.set(row.id, c);
  }
  return out;
}

/** A repository's own criticality (null: none set, or no such repository). */
export async function repositoryCriticality(db: Db, repositoryId: number): Promise<Criticality | null> {
  return (await db.selectFrom("repositories").select("criticality").where("id", "=", repositoryId).executeTakeFirst())?.criticality ?? null;
}

/** Sets (or, with null, clears) a repository's own criticality; false when there is no such repository. */
export async function saveRepositoryCriticality(db: Db, repositoryId: number, criticality: Criticality | null): Promise<boolean> {
  const result = await db.updateTable("repositories").set({ criticality }).where("id", "=", repositoryId).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** How many reachable repositories carry CODEOWNERS, topics and an override: the settings page's summary. */
export async function routingStats(db: Db): Promise<{ all: number; codeowners: number; topics: number; overrides: number }> {
  const row = await db
    .selectFrom("repositories")
    .select([
      (eb) => eb.fn.countAll<number>().as("all"),
      (eb) => eb.fn.count<number>("codeowners").as("codeowners"),
      (eb) => eb.fn.count<number>("topics").as("topics"),
      (eb) => eb.fn.count<number>("routing").as("overrides"),
    ])
    .where("accessible", "=", 1)
    .executeTakeFirstOrThrow();
  return { all: Number(row.all), codeowners: Number(row.codeowners), topics: Number(row.topics), overrides: Number(row.overrides) };
}

/** Sets (or, with null, clears) a repository's own route; false when there is no such repository. */
export async function saveOverride(db: Db, repositoryId: number, override: RouteOverride | null): Promise<boolean> {
  const result = await db
    .updateTable("repositories")
    .set({ routing: override && !overrideIsEmpty(override) ? JSON.stringify(override) : null })
    .where("id", "=", repositoryId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Stores a repository's parsed CODEOWNERS (JSON), or null when it has none. */
export async function saveCodeowners(db: Db, repositoryId: number, codeowners: string | null): Promise<void> {
  const owner = codeowners ? (ownersOf(JSON.parse(codeowners) as Codeowners, null)[0] ?? null) : null;
  await db.updateTable("repositories").set({ codeowners, owner }).where("id", "=", repositoryId).execute();
}

export interface RepositoryOwnership {
  topics: string[];
  codeowners: Codeowners | null;
  override: RouteOverride | null;
}

/** Reads the ownership facts of some repositories at once. */
export async function repositoryOwnership(db: Db, ids: number[]): Promise<Map<number, RepositoryOwnership>> {
  const out = new Map<number, RepositoryOwnership>();
  if (!ids.length) return out;
  const rows = await db.selectFrom("repositories").select(["id", "topics", "codeowners", "routing"]).where("id", "in", ids).execute();
  for (const r of rows) {
    out.set(r.id, {
      topics: r.topics ? (JSON.parse(r.topics) as string[]) : [],
      codeowners: r.codeowners ? (JSON.parse(r.codeowners) as Codeowners) : null,
      override: parseOverride(r.routing),
    });
  }
  return out;
}

/**
 * The route for findings in these repositories (paths: the files the findings come from, by
 * repository, when known). Owners are looked up in the table in CODEOWNERS order; the first
 * owner with a row gives the assignee, component and channel, topics fill what is still
 * empty, every matching row adds its labels, and a repository override wins over all.
 */
export function computeRoute(settings: RoutingSettings, repos: { fullName: string; ownership: RepositoryOwnership; paths: string[] }[]): Route {
  const route: Route = { owners: [], topics: [], assignee: null, component: null, labels: [], channel: null, reasons: [] };
  const take = (rule: Pick<RouteRule, "assignee" | "component" | "channel" | "labels">, why: string) => {
    const took: string[] = [];
    if (rule.assignee && route.assignee === null) ((route.assignee = rule.assignee), took.push(`assignee ${rule.assignee}`));
    if (rule.component && route.component === null) ((route.component = rule.component), took.push(`component ${rule.component}`));
    if (rule.channel && route.channel === null) ((route.channel = rule.channel), took.push(`channel ${rule.channel}`));
    const added = rule.labels.filter((l) => !route.labels.includes(l));
    if (added.length) (route.labels.push(...added), took.push(`labels ${added.join(", ")}`));
    if (took.length) route.reasons.push(`${why}: ${took.join("; ")}`);
  };
  // Overrides first: they win, and the values they leave empty still come from the table.
  for (const repo of repos) {
    const o = repo.ownership.override;
    if (!overrideIsEmpty(o)) take(o!, `${repo.fullName} override`);
  }
  const byMatch = new Map(settings.rules.map((r) => [r.match.toLowerCase(), r]));
  if (settings.useCodeowners) {
    for (const repo of repos) {
      const co = repo.ownership.codeowners;
      if (!co) continue;
      const paths = repo.paths.length ? repo.paths : [null];
      for (const path of paths) {
        for (const owner of ownersOf(co, path)) if (!route.owners.includes(owner)) route.owners.push(owner);
      }
    }
    for (const owner of route.owners) {
      const rule = byMatch.get(owner.toLowerCase());
      if (rule) take(rule, `CODEOWNERS owner ${owner}`);
    }
  }
  if (settings.useTopics) {
    for (const repo of repos) for (const t of repo.ownership.topics) if (!route.topics.includes(t)) route.topics.push(t);
    for (const topic of route.topics) {
      const rule = byMatch.get(`topic:${topic.toLowerCase()}`);
      if (rule) take(rule, `topic ${topic}`);
    }
  }
  return route;
}

/** The route of findings by their repositories and (where Patchbay knows them) manifest paths. */
export async function routeForFindings(db: Db, findingIds: number[]): Promise<Route> {
  if (!findingIds.length) return EMPTY_ROUTE;
  const rows = await db
    .selectFrom("findings")
    .innerJoin("assets", "assets.id", "findings.asset_id")
    .innerJoin("repositories", "repositories.id", "assets.repository_id")
    .select(["repositories.id as repository_id", "repositories.full_name", "findings.package", "findings.ecosystem"])
    .where("findings.id", "in", findingIds.slice(0, 500))
    .execute();
  if (!rows.length) return EMPTY_ROUTE;
  const settings = await loadRouting(db);
  const ids = [...new Set(rows.map((r) => r.repository_id))];
  const ownership = await repositoryOwnership(db, ids);
  // The manifest each package is pinned in, from the dependency monitor's records.
  const deps = await db
    .selectFrom("repository_dependencies")
    .select(["repository_id", "path", "name"])
    .where("repository_id", "in", ids)
    .where("name", "in", [...new Set(rows.map((r) => r.package))])
    .execute();
  const repos = ids.map((id) => {
    const mine = rows.filter((r) => r.repository_id === id);
    const packages = new Set(mine.map((r) => r.package));
    return {
      fullName: mine[0]!.full_name,
      ownership: ownership.get(id) ?? { topics: [], codeowners: null, override: null },
      paths: [...new Set(deps.filter((d) => d.repository_id === id && packages.has(d.name)).map((d) => d.path))],
    };
  });
  return computeRoute(settings, repos);
}

/** The route of one repository as a whole (its Ownership page, notifications about it). */
export async function routeForRepository(db: Db, repositoryId: number): Promise<Route> {
  const row = await db.selectFrom("repositories").select(["id", "full_name"]).where("id", "=", repositoryId).executeTakeFirst();
  if (!row) return EMPTY_ROUTE;
  const ownership = (await repositoryOwnership(db, [row.id])).get(row.id)!;
  return computeRoute(await loadRouting(db), [{ fullName: row.full_name, ownership, paths: [] }]);
}

/** The owners CODEOWNERS names for one file of a repository (a fix pull request's reviewers), in its order. */
export async function ownersOfFile(db: Db, repositoryId: number, path: string): Promise<string[]> {
  const settings = await loadRouting(db);
  if (!settings.useCodeowners) return [];
  const row = await db.selectFrom("repositories").select(["id", "full_name"]).where("id", "=", repositoryId).executeTakeFirst();
  if (!row) return [];
  const ownership = (await repositoryOwnership(db, [row.id])).get(row.id)!;
  return computeRoute(settings, [{ fullName: row.full_name, ownership, paths: [path] }]).owners;
}
