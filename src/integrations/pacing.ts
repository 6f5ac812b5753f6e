// Pacing ahead of the services' limits. Each credential (the integration whose token signs the
// requests: a GitHub Issues tracker that reuses a GitHub integration writes as that one) keeps a
// log of its writes in the database, shared by every process and every job writing with it, and
// a write goes only when every window (a minute, an hour) has seen fewer than its limit: the
// service's own sliding windows, with a second's margin for the time a request is in transit.
// Concurrent requests are capped per process.
//
// A write waits in line for its turn; a wait longer than a job should hold its slot (a minute's
// window with its margin) is a RateLimitedError, and the job runs again when the window has room.
import { sql } from "kysely";
import type { PaceClock } from "../connectors/context.js";
import { paceLimits } from "../connectors/pace.js";
import type { Connector, PaceLimits, Pacing } from "../connectors/types.js";
import type { Db, Integration } from "../db/schema.js";
import { type Pacer, RateLimitedError } from "../http.js";
import type { Logger } from "../log.js";

export interface PaceWindow {
  seconds: number;
  max: number;
}

/** Added to every window: a write is logged as it leaves, the service counts it as it arrives. */
export const WINDOW_MARGIN_MS = 1000;

/**
 * Waits longer than this are not held in a job (its lease is renewed meanwhile): the job is
 * retried when the window has room. A full minute's window is waited out in place.
 */
const MAX_INLINE_WAIT_MS = 60_000 + WINDOW_MARGIN_MS;

export function paceWindows(limits: PaceLimits): PaceWindow[] {
  const out: PaceWindow[] = [];
  if (limits.perMinute) out.push({ seconds: 60, max: limits.perMinute });
  if (limits.perHour) out.push({ seconds: 3600, max: limits.perHour });
  return out;
}

const spanOf = (window: PaceWindow) => window.seconds * 1000 + WINDOW_MARGIN_MS;

/**
 * Logs one write for the credential when every window has room for it, all or none. Returns 0
 * when logged, or the milliseconds until the fullest window has room.
 */
export async function reserveWrite(db: Db, credential: string, windows: PaceWindow[], nowMs: number): Promise<number> {
  if (windows.length === 0) return 0;
  return db.transaction().execute(async (trx) => {
    // The credential's row first: on PostgreSQL its lock lines up the writers with this
    // credential, on SQLite the write takes the database's write lock. Its clock never goes
    // back, so a process whose clock is behind still counts the others' writes.
    const row = await trx
      .insertInto("pace_credentials")
      .values({ key: credential, updated_ms: nowMs })
      .onConflict((oc) =>
        oc.column("key").doUpdateSet({
          updated_ms: sql<number>`case when excluded.updated_ms > pace_credentials.updated_ms then excluded.updated_ms else pace_credentials.updated_ms end`,
        }),
      )
      .returning("updated_ms")
      .executeTakeFirstOrThrow();
    const now = Math.max(nowMs, Number(row.updated_ms));
    let wait = 0;
    for (const window of windows) {
      // The window is full when its max-th latest write is still inside it; it has room once that one leaves.
      const edge = await trx
        .selectFrom("pace_writes")
        .select("at_ms")
        .where("key", "=", credential)
        .where("at_ms", ">", now - spanOf(window))
        .orderBy("at_ms", "desc")
        .limit(1)
        .offset(window.max - 1)
        .executeTakeFirst();
      if (edge) wait = Math.max(wait, Math.ceil(Number(edge.at_ms) + spanOf(window) - now));
    }
    if (wait > 0) return wait;
    await trx.insertInto("pace_writes").values({ key: credential, at_ms: now }).execute();
    const longest = Math.max(...windows.map(spanOf));
    await trx
      .deleteFrom("pace_writes")
      .where("key", "=", credential)
      .where("at_ms", "<=", now - longest)
      .execute();
    return 0;
  });
}

/** Requests in flight per credential, in this process. */
const inFlight = new Map<string, { active: number; waiting: (() => void)[] }>();

async function enter(credential: string, limit: number | undefined): Promise<() => void> {
  if (!limit) return () => {};
  let slot = inFlight.get(credential);
  if (!slot) inFlight.set(credential, (slot = { active: 0, waiting: [] }));
  const s = slot;
  if (s.active >= limit) await new Promise<void>((resolve) => s.waiting.push(resolve));
  else s.active++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const next = s.waiting.shift();
    if (next)
      next(); // the slot passes straight to the next in line
    else if (--s.active === 0) inFlight.delete(credential);
  };
}

export interface PacerOptions {
  db: Db;
  /** The credential's key: "integration:<id>". */
  credential: string;
  limits: PaceLimits;
  service: string;
  basis: string;
  logger: Logger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  maxInlineWaitMs?: number;
}

export function databasePacer(o: PacerOptions): Pacer {
  const windows = paceWindows(o.limits);
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const maxWait = o.maxInlineWaitMs ?? MAX_INLINE_WAIT_MS;
  return {
    async acquire(write) {
      if (write) {
        for (;;) {
          const wait = await reserveWrite(o.db, o.credential, windows, now());
          if (wait === 0) break;
          if (wait > maxWait) {
            const seconds = Math.ceil(wait / 1000);
            throw new RateLimitedError(
              o.service,
              `Patchbay is pacing its writes to ${o.service} (${describeLimits(o.limits)}, ${o.basis} or the integration's setting): the next one may go in ${seconds} s, and the work resumes then.`,
              seconds,
            );
          }
          o.logger.debug("pacing writes", { service: o.service, credential: o.credential, waitMs: wait });
          await sleep(wait);
        }
      }
      return enter(o.credential, o.limits.concurrent);
    },
  };
}

export function describeLimits(limits: PaceLimits): string {
  const parts: string[] = [];
  if (limits.perMinute) parts.push(`${limits.perMinute.toLocaleString("en")} a minute`);
  if (limits.perHour) parts.push(`${limits.perHour.toLocaleString("en")} an hour`);
  return parts.length ? `at most ${parts.join(" and ")}` : "no limit";
}

/** The connector whose pacing applies to an integration, with its credential and limits. */
export interface PaceOf {
  pacing: Pacing;
  credential: string;
  limits: PaceLimits;
  service: string;
}

function settingsOf(integration: Pick<Integration, "settings">): Record<string, string | boolean> {
  try {
    return JSON.parse(integration.settings) as Record<string, string | boolean>;
  } catch {
    return {};
  }
}

/**
 * An integration's pace: it writes with its own credential, or (where it reuses another
 * integration's connection) with that one's, and the two share one log of writes.
 */
export async function paceOf(db: Db, connector: Connector, integration: Pick<Integration, "id" | "settings">): Promise<PaceOf | undefined> {
  if (!connector.pacing) return undefined;
  const own = settingsOf(integration);
  const field = connector.fields.find((f) => f.type === "integration" && own[f.name]);
  const reusedId = field ? Number(own[field.name]) : undefined;
  const reused = reusedId ? await db.selectFrom("integrations").select(["id", "settings"]).where("id", "=", reusedId).executeTakeFirst() : undefined;
  return {
    pacing: connector.pacing,
    credential: `integration:${reused?.id ?? integration.id}`,
    limits: paceLimits(connector.pacing, own, reused ? settingsOf(reused) : undefined),
    service: connector.card.name.replace(/ Issues$/, ""),
  };
}

/** The pacer for an integration's requests, or undefined where its service documents no limits. */
export async function pacerFor(
  db: Db,
  connector: Connector,
  integration: Pick<Integration, "id" | "settings">,
  logger: Logger,
  clock?: PaceClock | false,
): Promise<Pacer | undefined> {
  if (clock === false) return undefined;
  const pace = await paceOf(db, connector, integration);
  if (!pace) return undefined;
  return databasePacer({
    db,
    credential: pace.credential,
    limits: pace.limits,
    service: pace.service,
    basis: pace.pacing.basis,
    logger,
    now: clock?.now,
    sleep: clock?.sleep,
  });
}

/**
 * How long `writes` writes take at this pace (a steady pace: the estimate does not count on
 * windows another job may already have used), in seconds.
 */
export function paceSeconds(writes: number, limits: PaceLimits): number {
  let seconds = 0;
  for (const window of paceWindows(limits)) seconds = Math.max(seconds, (writes / window.max) * window.seconds);
  return seconds;
}

/** "about 2 h 5 min", "about 40 min", "under a minute". */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return "under a minute";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `about ${h} h${m ? ` ${m} min` : ""}`;
}

/** What a push of `tickets` new tickets costs in time, for the dry run and the bulk push page. */
export interface PushEstimate {
  tickets: number;
  seconds: number;
  /** "about 2 h at GitHub's pace (at most 80 a minute and 500 an hour)". */
  text: string;
  /** Hours of work: grouping findings into fewer tickets is worth suggesting. */
  long: boolean;
}

export function estimatePush(tickets: number, pace: PaceOf): PushEstimate {
  const seconds = paceSeconds(tickets * pace.pacing.writesPerTicket, pace.limits);
  return { tickets, seconds, text: `${formatDuration(seconds)} at ${pace.service}'s pace (${describeLimits(pace.limits)})`, long: seconds >= 3600 };
}
