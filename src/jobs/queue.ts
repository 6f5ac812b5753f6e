// The durable job queue: every background action is a row in `jobs`. A worker claims a
// job by taking a lease; if the process dies, the lease runs out and another claim picks
// the job up again. Queries stay in the Kysely builder (on PostgreSQL the claim would add
// FOR UPDATE SKIP LOCKED; the conditional update below is what makes it safe either way).
import { randomUUID } from "node:crypto";
import { type ExpressionBuilder, sql } from "kysely";
import type { Database, Db, Job, JobStatus } from "../db/schema.js";
import { dialectOf } from "../db/dialect.js";

export interface EnqueueOptions {
  runAt?: Date;
  maxAttempts?: number;
  /** At most one queued or running job holds this key; enqueueing again returns that job. */
  dedupeKey?: string;
  /** The integration the job talks to: see integrationLane. */
  lane?: string;
  /** Jobs that share a budget besides their lane (one person's bulk pushes): see GROUP_LIMIT. */
  group?: string;
  /** Only the worker with this pin claims it. */
  pinnedTo?: string;
  /**
   * Asked for by a person ("Scan now"): when the job holding the key is already running — reading
   * what the service said before the change the person knows of — it runs once more after it.
   */
  again?: boolean;
}

/** Jobs of one group running at once (a person's bulk pushes); more wait their turn. */
export const GROUP_LIMIT = 2;

/** What a claim must leave alone. */
export interface ClaimLimits {
  /** Jobs of one lane running at once. */
  laneLimit?: number;
  /** Jobs of one group running at once. */
  groupLimit?: number;
  /** Lanes this worker already runs: its last free slot is kept for other integrations' work. */
  avoidLanes?: string[];
  /** This worker's pin: it claims jobs pinned to it besides unpinned ones. */
  pin?: string;
}

/** The lane of jobs that talk to one integration. */
export function integrationLane(integrationId: number): string {
  return `integration:${integrationId}`;
}

export interface JobProgress {
  done: number;
  total: number;
  message?: string;
}

export const DEFAULT_MAX_ATTEMPTS = 5;

/**
 * A kind of job, declared once beside the engine that handles it: its name, its payload's
 * type, how many attempts it gets, and how its dedupe key and lane follow from the payload.
 * Work is queued with enqueue(kind, payload) — typed by the kind, never by a bare name — and
 * handled by a JobHandler of the same payload (worker.ts: handles).
 */
export interface JobKind<P> {
  readonly type: string;
  /** What people read on the Jobs page: "Ticket push", "Scan". */
  readonly label: string;
  readonly maxAttempts: number;
  /** At most one queued or running job per key: the key this payload's job holds. */
  readonly dedupeKey: ((payload: P) => string) | undefined;
  /** The lane this payload's job runs in (the integration it talks to), when the payload tells. */
  readonly lane: ((payload: P) => string) | undefined;
  /** For the compiler only: the payload's type. */
  readonly payloadType?: P;
}

export interface JobKindSpec<P> {
  label: string;
  maxAttempts?: number;
  /** "one": a single job of this kind at a time; or the key a payload's job holds. */
  dedupe?: "one" | ((payload: P) => string);
  lane?: (payload: P) => string;
}

const LABELS = new Map<string, string>();

/** The human name of a job type (its declaration's label), or the type itself for one no longer declared. */
export function jobLabel(type: string): string {
  return LABELS.get(type) ?? type;
}

export function jobKind<P = null>(type: string, spec: JobKindSpec<P>): JobKind<P> {
  const dedupe = spec.dedupe;
  LABELS.set(type, spec.label);
  return {
    type,
    label: spec.label,
    maxAttempts: spec.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    dedupeKey: dedupe === "one" ? () => type : dedupe,
    lane: spec.lane,
  };
}

/** The shape of every sync: one job per integration at a time (key "<type>:<id>"), in that integration's lane. */
export function perIntegration<P extends { integrationId: number }>(type: string): Pick<JobKindSpec<P>, "dedupe" | "lane"> {
  return { dedupe: (p) => `${type}:${p.integrationId}`, lane: (p) => integrationLane(p.integrationId) };
}

export interface EnqueueExtras {
  runAt?: Date;
  /** The lane, when the payload does not tell it (a push's tracker is its mapping's). */
  lane?: string;
  group?: string;
  /** Only this process's worker may claim it (see Worker's pin): work that needs its disk. */
  pinnedTo?: string;
  /** See EnqueueOptions.again. */
  again?: boolean;
}

/** Queues a job of this kind; with a dedupe key, a job already queued or running under it is returned instead. */
export function enqueue<P>(db: Db, kind: JobKind<P>, payload: P, now: Date, extras: EnqueueExtras = {}): Promise<number> {
  return enqueueJob(db, kind.type, payload, now, {
    maxAttempts: kind.maxAttempts,
    dedupeKey: kind.dedupeKey?.(payload),
    lane: extras.lane ?? kind.lane?.(payload),
    runAt: extras.runAt,
    group: extras.group,
    pinnedTo: extras.pinnedTo,
    again: extras.again,
  });
}

/** The key a kind's job holds for this payload (to find it among active jobs). */
/** Replaces the payload of a job still waiting to run (a notification gathering more events); no change once it started. */
export async function updateQueuedPayload(db: Db, id: number, payload: unknown): Promise<void> {
  await db
    .updateTable("jobs")
    .set({ payload: JSON.stringify(payload) })
    .where("id", "=", id)
    .where("status", "=", "queued")
    .execute();
}

export function dedupeKeyOf<P>(kind: JobKind<P>, payload: P): string | undefined {
  return kind.dedupeKey?.(payload);
}

/** The queue's primitive: a job by name. Engines use enqueue with a JobKind; tests of the queue itself use this. */
export async function enqueueJob(db: Db, type: string, payload: unknown, now: Date, opts: EnqueueOptions = {}): Promise<number> {
  const stamp = now.toISOString();
  const findActive = async (key: string) =>
    (await db.selectFrom("jobs").select("id").where("dedupe_key", "=", key).where("status", "in", ["queued", "running"]).executeTakeFirst())?.id;
  if (opts.dedupeKey) {
    const existing = await findActive(opts.dedupeKey);
    // Asked for again while it runs: marked to run once more (unless it ended meanwhile: then a new one is queued).
    if (existing !== undefined && (!opts.again || (await markAgain(db, existing)))) return existing;
  }
  const insert = db
    .insertInto("jobs")
    .values({
      type,
      payload: JSON.stringify(payload ?? null),
      status: "queued",
      run_at: (opts.runAt ?? now).toISOString(),
      max_attempts: opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      dedupe_key: opts.dedupeKey ?? null,
      lane: opts.lane ?? null,
      group_key: opts.group ?? null,
      pinned_to: opts.pinnedTo ?? null,
      created_at: stamp,
      updated_at: stamp,
    })
    // Lost a race with another enqueue of the same key: the (partial) unique index keeps one job,
    // and nothing fails — an error would abort the caller's transaction on PostgreSQL.
    .$if(Boolean(opts.dedupeKey), (q) =>
      q.onConflict((oc) =>
        oc
          .column("dedupe_key")
          // The index's own predicate, word for word (SQLite matches partial indexes by their text).
          .where(sql<boolean>`status in ('queued', 'running')`)
          .doNothing(),
      ),
    )
    .returning("id");
  const inserted = await insert.executeTakeFirst();
  if (inserted) return inserted.id;
  const existing = await findActive(opts.dedupeKey!);
  if (existing === undefined)
    throw new Error(`Job ${type} with key ${opts.dedupeKey} was neither queued nor found (it finished at that moment); enqueue it again.`);
  return existing;
}

/** Marks a running job to run once more when it succeeds (true), or says it is no longer running (false). */
async function markAgain(db: Db, id: number): Promise<boolean> {
  const row = await db.selectFrom("jobs").select(["status", "payload"]).where("id", "=", id).executeTakeFirst();
  if (row?.status === "queued") return true;
  if (row?.status !== "running") return false;
  const payload = JSON.parse(row.payload) as unknown;
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) return true;
  const marked = await db
    .updateTable("jobs")
    .set({ payload: JSON.stringify({ ...payload, [AGAIN]: true }) })
    .where("id", "=", id)
    .where("status", "=", "running")
    .executeTakeFirst();
  return Number(marked.numUpdatedRows) > 0;
}

/** The payload field that marks a running job to run once more (markAgain). */
const AGAIN = "again";

/**
 * Process deaths a job may be caught in without making progress before it is taken for the
 * cause (a job that crashes the process each time); a restart loop of the whole machine can
 * catch an innocent job a few times in a row.
 */
const CRASH_LIMIT = 10;

/**
 * Claims the next due job: a queued job whose time has come, or a running job whose
 * lease expired (its worker crashed). Returns undefined when nothing is due. With a lane
 * limit, a job whose lane already has that many jobs running (with live leases) waits, so
 * one slow or rate-limited integration cannot hold every slot.
 */
export async function claimJob(db: Db, workerId: string, leaseMs: number, now: Date, limits: ClaimLimits = {}): Promise<Job | undefined> {
  const { laneLimit = Infinity, groupLimit = GROUP_LIMIT, avoidLanes = [], pin } = limits;
  const stamp = now.toISOString();
  /** The lanes (or groups) that already have `limit` jobs running with live leases. */
  const full = (eb: ExpressionBuilder<Database, "jobs">, column: "lane" | "group_key", limit: number) =>
    eb
      .selectFrom("jobs as busy")
      .select(`busy.${column}` as "busy.lane")
      .where("busy.status", "=", "running")
      .where(`busy.${column}`, "is not", null)
      .where("busy.lease_until", ">=", stamp)
      .groupBy(`busy.${column}`)
      .having((h) => h.fn.countAll(), ">=", limit);
  const leaseUntil = new Date(now.getTime() + leaseMs).toISOString();
  // On PostgreSQL, workers in several processes skip a row another is claiming (FOR UPDATE SKIP
  // LOCKED) instead of all reaching for the same one; the conditional update below decides on both.
  const postgres = dialectOf(db) === "postgres";
  for (let tries = 0; tries < 10; tries++) {
    if (postgres) {
      const claimed = await db.transaction().execute(async (trx) => {
        const row = await candidateQuery(trx).forUpdate().skipLocked().executeTakeFirst();
        return row ? take(trx, row) : null;
      });
      if (claimed === null) return undefined;
      if (claimed) return claimed;
      continue;
    }
    const candidate = await candidateQuery(db).executeTakeFirst();
    if (!candidate) return undefined;
    const claimed = await take(db, candidate);
    if (claimed) return claimed;
  }
  return undefined;

  function candidateQuery(q: Db) {
    return (
      q
        .selectFrom("jobs")
        .selectAll()
        .where((eb) =>
          eb.or([eb.and([eb("status", "=", "queued"), eb("run_at", "<=", stamp)]), eb.and([eb("status", "=", "running"), eb("lease_until", "<", stamp)])]),
        )
        .$if(Number.isFinite(laneLimit), (q) => q.where((eb) => eb.or([eb("lane", "is", null), eb("lane", "not in", full(eb, "lane", laneLimit))])))
        .where((eb) => eb.or([eb("group_key", "is", null), eb("group_key", "not in", full(eb, "group_key", groupLimit))]))
        .$if(avoidLanes.length > 0, (q) => q.where((eb) => eb.or([eb("lane", "is", null), eb("lane", "not in", avoidLanes)])))
        // Jobs pinned to another process wait for it.
        .where((eb) => (pin === undefined ? eb("pinned_to", "is", null) : eb.or([eb("pinned_to", "is", null), eb("pinned_to", "=", pin)])))
        .orderBy("run_at")
        .orderBy("id")
        .limit(1)
    );
  }

  /** Whether the candidate's lane and group still have room, counted under their locks (PostgreSQL, in the claim's transaction). */
  async function roomIn(q: Db, candidate: Job): Promise<boolean> {
    for (const [column, limit] of [
      ["lane", laneLimit],
      ["group_key", groupLimit],
    ] as const) {
      const key = candidate[column];
      if (key === null || !Number.isFinite(limit)) continue;
      await sql`select pg_advisory_xact_lock(hashtext(${`${column}:${key}`}))`.execute(q);
      const busy = await q
        .selectFrom("jobs")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where(column, "=", key)
        .where("status", "=", "running")
        .where("lease_until", ">=", stamp)
        .where("id", "!=", candidate.id)
        .executeTakeFirstOrThrow();
      if (Number(busy.n) >= limit) return false;
    }
    return true;
  }

  /** Claims the candidate unless another worker did first: the claimed row, or undefined. */
  async function take(q: Db, candidate: Job): Promise<Job | undefined> {
    // A job whose process stopped after it made progress (a scan that committed pages) resumes
    // without using up an attempt; one that keeps stopping the process without progress is failed.
    const crashed = candidate.status === "running";
    const progressed = crashed && (candidate.progress ?? "") !== (candidate.claimed_progress ?? "");
    if (crashed && !progressed && candidate.attempts >= Math.max(candidate.max_attempts, CRASH_LIMIT)) {
      await finish(q, candidate, "failed", stamp, {
        last_error: `The process stopped while running this job on each of its ${candidate.attempts} attempts; it will not be tried again.`,
      });
      return undefined;
    }
    // On PostgreSQL, claims in other processes are not visible until they commit: a lane's (or
    // group's) claims take turns on an advisory lock, and the count is taken again under it.
    if (postgres && !(await roomIn(q, candidate))) return undefined;
    return (
      q
        .updateTable("jobs")
        .set({
          status: "running",
          attempts: progressed ? candidate.attempts : candidate.attempts + 1,
          lease_until: leaseUntil,
          // This claim's own mark: the worker, and a nonce, so a stale attempt of the same worker
          // (its lease lost, the job taken over again) cannot renew, finish or fail the new one.
          locked_by: `${workerId}#${randomUUID().slice(0, 8)}`,
          claimed_progress: candidate.progress,
          updated_at: stamp,
        })
        .where("id", "=", candidate.id)
        .where("status", "=", candidate.status)
        .where("attempts", "=", candidate.attempts)
        // Two workers taking over the same crashed job: only the first one's update matches.
        .where("lease_until", candidate.lease_until === null ? "is" : "=", candidate.lease_until)
        .returningAll()
        .executeTakeFirst()
    );
  }
}

/**
 * Claims, beside a running job, more due jobs of its type whose dedupe keys start with `keyPrefix`
 * (pushes to the same mapping), so that its handler can do their work with its own — one request
 * where the service takes many. Each is claimed as claimJob would (its own attempt and lease), and
 * must be renewed, finished or failed on its own; one its process dies holding is taken over when
 * its lease runs out, like any other. `accept` picks among the due candidates (the rest stay queued).
 */
export async function claimCompanions(
  db: Db,
  job: Job,
  opts: { keyPrefix: string; limit: number; leaseMs: number; now: Date; accept?: (candidates: Job[]) => Promise<Job[]> },
): Promise<Job[]> {
  if (opts.limit <= 0) return [];
  const stamp = opts.now.toISOString();
  const workerId = claimOf(job).replace(/#[^#]*$/, "");
  const candidates = (q: Db) =>
    q
      .selectFrom("jobs")
      .selectAll()
      .where("type", "=", job.type)
      .where("status", "=", "queued")
      .where("run_at", "<=", stamp)
      .where("dedupe_key", ">=", opts.keyPrefix)
      // Every key with the prefix, as a range: the prefix with its last character's successor bounds it.
      .where("dedupe_key", "<", opts.keyPrefix.slice(0, -1) + String.fromCharCode(opts.keyPrefix.charCodeAt(opts.keyPrefix.length - 1) + 1))
      .where("id", "!=", job.id)
      .where((eb) => (job.pinned_to === null ? eb("pinned_to", "is", null) : eb.or([eb("pinned_to", "is", null), eb("pinned_to", "=", job.pinned_to)])))
      .orderBy("run_at")
      .orderBy("id")
      .limit(opts.limit * 2);
  const take = async (q: Db, rows: Job[]) => {
    const claimed: Job[] = [];
    for (const row of opts.accept ? await opts.accept(rows) : rows) {
      if (claimed.length >= opts.limit) break;
      const taken = await q
        .updateTable("jobs")
        .set({
          status: "running",
          attempts: row.attempts + 1,
          lease_until: new Date(opts.now.getTime() + opts.leaseMs).toISOString(),
          locked_by: `${workerId}#${randomUUID().slice(0, 8)}`,
          claimed_progress: row.progress,
          updated_at: stamp,
        })
        .where("id", "=", row.id)
        .where("status", "=", "queued")
        .where("attempts", "=", row.attempts)
        .returningAll()
        .executeTakeFirst();
      if (taken) claimed.push(taken);
    }
    return claimed;
  };
  // On PostgreSQL, rows another process is claiming are skipped rather than waited for.
  if (dialectOf(db) === "postgres") return db.transaction().execute(async (trx) => take(trx, await candidates(trx).forUpdate().skipLocked().execute()));
  return take(db, await candidates(db).execute());
}

/** Renews the claim's lease; false when the claim is no longer this one's (the job was taken over or ended). */
export async function extendLease(db: Db, job: Job, leaseMs: number, now: Date): Promise<boolean> {
  const result = await db
    .updateTable("jobs")
    .set({ lease_until: new Date(now.getTime() + leaseMs).toISOString() })
    .where("id", "=", job.id)
    .where("locked_by", "=", claimOf(job))
    .where("status", "=", "running")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The claim a job row was returned with by claimJob: what every later write of that attempt must match. */
function claimOf(job: Job): string {
  if (!job.locked_by) throw new Error(`Job ${job.id} was not claimed: only claimJob's row can renew, finish or fail it.`);
  return job.locked_by;
}

/** Records success; a job asked for again while it ran (markAgain) is queued once more, in the same transaction. */
export async function completeJob(db: Db, job: Job, now: Date): Promise<void> {
  // Only a job holding a dedupe key can have been asked for again: the rest just finish, as before.
  if (job.dedupe_key === null) return void (await finish(db, job, "succeeded", now.toISOString(), { last_error: null }, claimOf(job)));
  await db.transaction().execute(async (trx) => {
    // Finished first: on PostgreSQL a request marking it waits for this row, then finds it no longer running.
    if (!(await finish(trx, job, "succeeded", now.toISOString(), { last_error: null }, claimOf(job)))) return;
    const row = await trx.selectFrom("jobs").select("payload").where("id", "=", job.id).executeTakeFirstOrThrow();
    const payload = JSON.parse(row.payload) as Record<string, unknown> | null;
    if (payload === null || typeof payload !== "object" || payload[AGAIN] !== true) return;
    const { [AGAIN]: _again, ...rest } = payload;
    await enqueueJob(trx, job.type, rest, now, {
      maxAttempts: job.max_attempts,
      dedupeKey: job.dedupe_key ?? undefined,
      lane: job.lane ?? undefined,
      group: job.group_key ?? undefined,
      pinnedTo: job.pinned_to ?? undefined,
    });
  });
}

/** Records a failed attempt: retried later with backoff, or failed for good after the last attempt. */
export async function failJob(db: Db, job: Job, error: string, now: Date, retryAfterMs?: number): Promise<"retrying" | "failed"> {
  if (job.attempts >= job.max_attempts) {
    await finish(db, job, "failed", now.toISOString(), { last_error: error }, claimOf(job));
    return "failed";
  }
  // A service that says when to come back (Retry-After, a search that lags) is taken at its word.
  await requeue(db, job, error, now, retryAfterMs !== undefined ? retryAfterMs : retryDelayMs(job.attempts), job.attempts);
  return "retrying";
}

/** Puts back an attempt that did none of the job's work (its turn had not come): due again after `afterMs`, the attempt not counted. */
export async function deferJob(db: Db, job: Job, reason: string, now: Date, afterMs: number): Promise<void> {
  await requeue(db, job, reason, now, afterMs, Math.max(0, job.attempts - 1));
}

/** The claimed job queued again, due after `afterMs`, with this many attempts used. */
async function requeue(db: Db, job: Job, reason: string, now: Date, afterMs: number, attempts: number): Promise<void> {
  await db
    .updateTable("jobs")
    .set({
      status: "queued",
      attempts,
      run_at: new Date(now.getTime() + afterMs).toISOString(),
      last_error: reason,
      lease_until: null,
      locked_by: null,
      updated_at: now.toISOString(),
    })
    .where("id", "=", job.id)
    .where("locked_by", "=", claimOf(job))
    .execute();
}

/** 30 s, 2 min, 8 min, 32 min, then hourly. */
export function retryDelayMs(attempts: number): number {
  return Math.min(60 * 60 * 1000, 30_000 * 4 ** Math.max(0, attempts - 1));
}

/** Ends the job (under its claim, if given); false if the claim no longer holds it. */
async function finish(db: Db, job: Job, status: JobStatus, stamp: string, set: { last_error: string | null }, claim?: string): Promise<boolean> {
  let query = db
    .updateTable("jobs")
    .set({ status, ...set, lease_until: null, locked_by: null, dedupe_key: null, finished_at: stamp, updated_at: stamp })
    .where("id", "=", job.id);
  if (claim) query = query.where("locked_by", "=", claim);
  return Number((await query.executeTakeFirst()).numUpdatedRows) > 0;
}

/** Whether the attempt that claimed `job` still holds it (running, under its claim). */
export async function holdsJob(db: Db, job: Pick<Job, "id" | "locked_by">): Promise<boolean> {
  const held = await db
    .selectFrom("jobs")
    .select("id")
    .where("id", "=", job.id)
    .where("locked_by", "=", job.locked_by)
    .where("status", "=", "running")
    .executeTakeFirst();
  return held !== undefined;
}

/** Records progress; with a claim, only while that attempt still holds the job. */
export async function setJobProgress(db: Db, jobId: number, progress: JobProgress, now: Date, claim?: string | null): Promise<void> {
  await db
    .updateTable("jobs")
    .set({ progress: JSON.stringify(progress), updated_at: now.toISOString() })
    .where("id", "=", jobId)
    .$if(Boolean(claim), (q) => q.where("locked_by", "=", claim!))
    .execute();
}

export interface JobListFilter {
  status?: JobStatus;
  type?: string;
  limit?: number;
  /** Jobs with ids below this (the next page). */
  before?: number;
}

export function listJobs(db: Db, filter: JobListFilter = {}): Promise<Job[]> {
  let query = db
    .selectFrom("jobs")
    .selectAll()
    .orderBy("id", "desc")
    .limit(filter.limit ?? 100);
  if (filter.status) query = query.where("status", "=", filter.status);
  if (filter.type) query = query.where("type", "=", filter.type);
  if (filter.before !== undefined) query = query.where("id", "<", filter.before);
  return query.execute();
}

export function findJob(db: Db, id: number): Promise<Job | undefined> {
  return db.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function countJobsByStatus(db: Db): Promise<Record<JobStatus, number>> {
  const rows = await db
    .selectFrom("jobs")
    .select(["status", (eb) => eb.fn.countAll<number>().as("n")])
    .groupBy("status")
    .execute();
  const counts: Record<JobStatus, number> = { queued: 0, running: 0, succeeded: 0, failed: 0 };
  for (const row of rows) counts[row.status] = Number(row.n);
  return counts;
}

/** Jobs kept in the queue by type and status (the metrics' gauge). */
export function countJobsByTypeAndStatus(db: Db): Promise<{ type: string; status: JobStatus; n: number }[]> {
  return db
    .selectFrom("jobs")
    .select(["type", "status", (eb) => eb.fn.countAll<number>().as("n")])
    .groupBy(["type", "status"])
    .execute();
}

/** Deletes finished jobs: succeeded ones after a week, failed ones after thirty days. */
export async function pruneJobs(db: Db, now: Date): Promise<number> {
  const day = 24 * 60 * 60 * 1000;
  const result = await db
    .deleteFrom("jobs")
    .where((eb) =>
      eb.or([
        eb.and([eb("status", "=", "succeeded"), eb("finished_at", "<", new Date(now.getTime() - 7 * day).toISOString())]),
        eb.and([eb("status", "=", "failed"), eb("finished_at", "<", new Date(now.getTime() - 30 * day).toISOString())]),
      ]),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Puts a failed job back in the queue with a fresh set of attempts. */
export async function retryFailedJob(db: Db, id: number, now: Date): Promise<boolean> {
  const stamp = now.toISOString();
  const result = await db
    .updateTable("jobs")
    .set({ status: "queued", attempts: 0, run_at: stamp, finished_at: null, updated_at: stamp })
    .where("id", "=", id)
    .where("status", "=", "failed")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** A job waiting out its backoff after a failed attempt runs now (its attempts still count). */
export async function retryWaitingJobNow(db: Db, id: number, now: Date): Promise<boolean> {
  const stamp = now.toISOString();
  const result = await db
    .updateTable("jobs")
    .set({ run_at: stamp, updated_at: stamp })
    .where("id", "=", id)
    .where("status", "=", "queued")
    .where("attempts", ">", 0)
    .where("run_at", ">", stamp)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Lets a running job's key be taken again: a request that arrives while it runs queues one
 * more run instead of being folded into this one (which may have read the data already).
 */
export async function releaseDedupeKey(db: Db, jobId: number): Promise<void> {
  await db.updateTable("jobs").set({ dedupe_key: null }).where("id", "=", jobId).execute();
}

/** Whether a job of this type is queued or running now. */
/** Jobs of these types waiting or running, by dedupe key: which syncs are under way. */
export async function activeJobs(db: Db, types: readonly string[]): Promise<Map<string | null, "queued" | "running">> {
  const rows = await db
    .selectFrom("jobs")
    .select(["dedupe_key", "status"])
    .where("type", "in", [...types])
    .where("status", "in", ["queued", "running"])
    .execute();
  return new Map(rows.map((j) => [j.dedupe_key, j.status as "queued" | "running"]));
}

export async function jobActive(db: Db, type: string): Promise<boolean> {
  const row = await db.selectFrom("jobs").select("id").where("type", "=", type).where("status", "in", ["queued", "running"]).executeTakeFirst();
  return Boolean(row);
}
