// Pacing ahead of the services' limits. Each credential (the integration whose token signs the
// requests: a GitHub Issues tracker that reuses a GitHub integration writes as that one) has a
// token bucket per window in the database, shared by every process and every job writing with
// it. A bucket holds a tenth of the window's limit and refills with the rest over the window,
// so no window of that length ever sees more than the limit: GitHub's 500 an hour becomes a
// burst of 50, then one write every 8 s. Concurrent requests are capped per process.
//
// A write waits in line for its token; a wait longer than a job should hold its slot (a minute)
// is a RateLimitedError, and the job runs again when the tokens are there.
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

/** Waits longer than this are not held in a job: the job is retried when the tokens are there. */
const MAX_INLINE_WAIT_MS = 60_000;

export function paceWindows(limits: PaceLimits): PaceWindow[] {
  const out: PaceWindow[] = [];
  if (limits.perMinute) out.push({ seconds: 60, max: limits.perMinute });
  if (limits.perHour) out.push({ seconds: 3600, max: limits.perHour });
  return out;
}

/** A window's bucket: its size and refill (tokens a millisecond), never more than `max` in any window. */
export function bucketShape(window: PaceWindow): { burst: number; ratePerMs: number } {
  const burst = window.max >= 10 ? Math.floor(window.max / 10) : 1;
  return { burst, ratePerMs: Math.max(window.max - burst, window.max / 2) / (window.seconds * 1000) };
}

class Refused extends Error {
  constructor(readonly waitMs: number) {
    super("no token");
  }
}

/**
 * Takes one token from each of the credential's windows, all or none. Returns 0 when taken,
 * or the milliseconds until the scarcest window has one.
 */
export async function takeToken(db: Db, credential: string, windows: PaceWindow[], nowMs: number): Promise<number> {
  if (windows.length === 0) return 0;
  try {
    await db.transaction().execute(async (trx) => {
      for (const window of windows) {
        const { burst, ratePerMs } = bucketShape(window);
        const now = sql<number>`cast(${nowMs} as double precision)`;
        const rate = sql<number>`cast(${ratePerMs} as double precision)`;
        const cap = sql<number>`cast(${burst} as double precision)`;
        // The bucket as refilled until now (a clock behind the last writer's adds nothing).
        const elapsed = sql<number>`(case when ${now} > pace_buckets.updated_ms then ${now} - pace_buckets.updated_ms else 0 end)`;
        const grown = sql<number>`pace_buckets.tokens + ${elapsed} * ${rate}`;
        const refilled = sql<number>`(case when ${grown} > ${cap} then ${cap} else ${grown} end)`;
        // One atomic upsert per window: every right-hand side reads the row as it was.
        const row = await trx
          .insertInto("pace_buckets")
          .values({ key: `${credential}|${window.seconds}`, tokens: burst - 1, updated_ms: nowMs, granted: 1 })
          .onConflict((oc) =>
            oc.column("key").doUpdateSet({
              tokens: sql<number>`case when ${refilled} >= 1 then ${refilled} - 1 else ${refilled} end`,
              updated_ms: sql<number>`case when ${now} > pace_buckets.updated_ms then ${now} else pace_buckets.updated_ms end`,
              granted: sql<number>`case when ${refilled} >= 1 then 1 else 0 end`,
            }),
          )
          .returning(["tokens", "granted"])
          .executeTakeFirstOrThrow();
        if (Number(row.granted) !== 1) throw new Refused(Math.max(1, Math.ceil((1 - Number(row.tokens)) / ratePerMs)));
      }
    });
    return 0;
  } catch (err) {
    if (err instanceof Refused) return err.waitMs;
    throw err;
  }
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
          const wait = await takeToken(o.db, o.credential, windows, now());
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
 * integration's connection) with that one's, and the two share one bucket.
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
 * How long `writes` writes take at this pace from empty buckets (a steady pace: the estimate
 * does not count on a burst another job may already have used), in seconds.
 */
export function paceSeconds(writes: number, limits: PaceLimits): number {
  let seconds = 0;
  for (const window of paceWindows(limits)) {
    const { ratePerMs } = bucketShape(window);
    seconds = Math.max(seconds, writes / ratePerMs / 1000);
  }
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
  /** "about 2 h 13 min at GitHub's pace (at most 80 a minute and 500 an hour)". */
  text: string;
  /** Hours of work: grouping findings into fewer tickets is worth suggesting. */
  long: boolean;
}

export function estimatePush(tickets: number, pace: PaceOf): PushEstimate {
  const seconds = paceSeconds(tickets * pace.pacing.writesPerTicket, pace.limits);
  return { tickets, seconds, text: `${formatDuration(seconds)} at ${pace.service}'s pace (${describeLimits(pace.limits)})`, long: seconds >= 3600 };
}
