// The audit log from the web layer: `audit` records who (the signed-in user, or the API token's
// owner and the token), what, to what, and from where; Settings → Audit log shows it with filters
// (administrators only).
import { Hono, type Context } from "hono";
import { AUDIT_ACTIONS, type AuditAction, auditActors, listAudit, recordAudit } from "../audit/store.js";
import type { AppDeps, AppEnv } from "./context.js";
import { render } from "./render.js";
import { requireAdmin } from "./users.js";

const PAGE = 100;

/** Records an action by whoever makes this request. `detail` holds names and facts, never secret values. */
export async function audit<E extends AppEnv>(
  c: Context<E>,
  deps: Pick<AppDeps, "db" | "now">,
  action: AuditAction,
  target?: string | null,
  detail?: Record<string, unknown>,
  actor?: string,
): Promise<void> {
  await recordAudit(
    deps.db,
    {
      actor: actor ?? c.get("user")?.username ?? null,
      via: c.get("via") ?? null,
      action,
      target: target ?? null,
      // Facts that are empty (no secret replaced, say) are left out.
      detail: detail && Object.fromEntries(Object.entries(detail).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))),
      ip: c.get("clientIp") === "unknown" ? null : c.get("clientIp"),
    },
    deps.now(),
  );
}

export function auditRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("/settings/audit", requireAdmin(deps));

  app.get("/settings/audit", async (c) => {
    const params = new URL(c.req.url).searchParams;
    const filter = auditFilter(params);
    const beforeRaw = params.get("before");
    const before = beforeRaw && /^[1-9]\d{0,15}$/.test(beforeRaw) ? Number(beforeRaw) : undefined;
    const problem = typeof filter === "string" ? filter : undefined;
    const page = problem ? { entries: [], next: undefined } : await listAudit(deps.db, { ...(filter as object), before, limit: PAGE });
    const values = Object.fromEntries(["actor", "action", "from", "to"].map((k) => [k, (params.get(k) ?? "").slice(0, 100)]));
    const nextQuery =
      page.next === undefined
        ? undefined
        : new URLSearchParams({ ...Object.fromEntries(Object.entries(values).filter(([, v]) => v)), before: String(page.next) });
    return render(
      c,
      deps,
      "./audit",
      {
        entries: page.entries.map((e) => ({ ...e, label: AUDIT_ACTIONS[e.action as AuditAction] ?? e.action, facts: facts(e.detail) })),
        actors: await auditActors(deps.db),
        families: [...new Set(Object.keys(AUDIT_ACTIONS).map((a) => a.split(".")[0]!))],
        actions: AUDIT_ACTIONS,
        values,
        problem,
        next: nextQuery ? `?${nextQuery}` : undefined,
        first: before !== undefined,
        retention: deps.auditRetentionDays ? `for ${deps.auditRetentionDays.toLocaleString("en")} days` : "forever",
      },
      problem ? 400 : 200,
    );
  });
  return app;
}

/** The detail as "name: value" lines for the page. */
function facts(detail: string | null): string[] {
  if (!detail) return [];
  try {
    return Object.entries(JSON.parse(detail) as Record<string, unknown>).map(
      ([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}`,
    );
  } catch {
    return [];
  }
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The audit log's filter (page and API alike): actor, action or family, from/to days; or the problem. */
export function auditFilter(params: URLSearchParams): { actor?: string; action?: string; from?: string; to?: string } | string {
  const actor = (params.get("actor") ?? "").trim().slice(0, 100);
  const action = (params.get("action") ?? "").trim();
  const families = new Set(Object.keys(AUDIT_ACTIONS).map((a) => a.split(".")[0]!));
  if (action && !(action in AUDIT_ACTIONS) && !families.has(action))
    return `action is one of ${[...families].join(", ")} or a full action name (${Object.keys(AUDIT_ACTIONS).slice(0, 3).join(", ")}, …).`;
  const from = params.get("from") ?? "";
  const to = params.get("to") ?? "";
  if ((from && !DAY.test(from)) || (to && !DAY.test(to)) || (from && Number.isNaN(Date.parse(from))) || (to && Number.isNaN(Date.parse(to))))
    return "from and to are days, like 2026-01-31.";
  return {
    actor: actor || undefined,
    action: action || undefined,
    from: from ? new Date(`${from}T00:00:00Z`).toISOString() : undefined,
    // The whole day named by "to".
    to: to ? new Date(Date.parse(`${to}T00:00:00Z`) + 86_400_000).toISOString() : undefined,
  };
}
