// The worker loop: claims due jobs, runs their handlers with a heartbeat that keeps the
// lease alive, and records success, a retry with backoff, or final failure. Handlers are
// registered by type; a job of an unknown type fails with a message rather than vanishing.
import os from "node:os";
import crypto from "node:crypto";
import { asBackground } from "../db/database.js";
import type { Db, Job } from "../db/schema.js";
import { RateLimitedError } from "../http.js";
import { type Logger, redactText } from "../log.js";
import { jobDuration } from "../metrics.js";
import { claimCompanions, claimJob, completeJob, deferJob, extendLease, failJob, holdsJob, type JobKind, type JobProgress, setJobProgress } from "./queue.js";

export interface JobContext<P = unknown> {
  job: Job;
  /** The payload as the job's kind declares it. */
  payload: P;
  logger: Logger;
  progress(progress: JobProgress): Promise<void>;
  /** Aborted when this attempt's lease is lost (another attempt now holds the job): long work should stop. */
  signal: AbortSignal;
  /** More due jobs of this kind, done with this one (pushes to one tracker sent in one request). */
  companions: Companions;
  /**
   * Throws JobLeaseLost unless this attempt still holds the job. Called inside the transaction
   * that commits a step of the work (a scan's pages), it keeps an attempt whose lease ran out —
   * the job taken over by another — from writing anything more.
   */
  fence(trx: Db): Promise<void>;
}

/** This attempt no longer holds its job: another attempt took it over when its lease ran out. */
export class JobLeaseLost extends Error {
  constructor(jobId: number) {
    super(`Job ${jobId} was taken over by another attempt after this one's lease ran out; this attempt stops without writing more.`);
    this.name = "JobLeaseLost";
  }
}

/**
 * Thrown (or settled with) by a handler whose attempt did none of the job's work because it is not
 * its turn yet (another push holds the subject): the job runs again after `afterMs`, and the
 * attempt is not counted against its limit.
 */
export class NotYet extends Error {
  constructor(
    message: string,
    readonly afterMs: number,
  ) {
    super(message);
    this.name = "NotYet";
  }
}

/**
 * Jobs claimed beside the running one (queue.ts: claimCompanions). The worker renews their leases
 * with its own; the handler settles each with its outcome. One left unsettled when the handler
 * ends is put back to be tried again, with the handler's error if it threw.
 */
export interface Companions {
  claim(keyPrefix: string, limit: number, accept?: (candidates: Job[]) => Promise<Job[]>): Promise<Job[]>;
  /** Finished (no error), or this attempt failed: retried with backoff, or failed for good after its last attempt. */
  settle(job: Job, outcome?: { error: unknown; retryAfterMs?: number }): Promise<void>;
}

export type JobHandler<P = unknown> = (ctx: JobContext<P>) => Promise<void>;

/** A kind's entry in the worker's table: its handler receives the payload typed as the kind declares it. */
export function handles<P>(kind: JobKind<P>, handler: JobHandler<P>): [string, JobHandler] {
  return [kind.type, handler as JobHandler];
}

export interface WorkerOptions {
  db: Db;
  handlers: Map<string, JobHandler>;
  logger: Logger;
  now: () => Date;
  leaseMs: number;
  concurrency?: number;
  /** Jobs of one lane (one integration) running at once; half the slots by default. */
  laneLimit?: number;
  pollMs?: number;
  /** This process's pin (its spool folder's owner): it also claims jobs pinned to it. */
  pin?: string;
}

export class Worker {
  /** Which process runs a job (host and pid, on the jobs page and in the database): the replica to look at, or the one that died. */
  readonly id = `${os.hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`;
  readonly #o: Required<Omit<WorkerOptions, "pin">> & Pick<WorkerOptions, "pin">;
  /** Jobs running in this worker, with the lane each holds. */
  readonly #running = new Set<{ task: Promise<void>; lane: string | null }>();
  #stopped = true;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: WorkerOptions) {
    const concurrency = options.concurrency ?? 4;
    this.#o = { concurrency, laneLimit: Math.max(1, Math.floor(concurrency / 2)), pollMs: 1000, ...options };
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#loop = this.#run();
  }

  /** Stops claiming, and waits for the jobs in hand to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    await Promise.all([...this.#running].map((r) => r.task));
  }

  /** Tells an idle worker that a job was just enqueued. */
  notify(): void {
    this.#wake?.();
  }

  /** Claims and runs one job; false if none was due. For tests and the loop alike. */
  async runOnce(): Promise<boolean> {
    const job = await claimJob(this.#o.db, this.id, this.#o.leaseMs, this.#o.now(), { pin: this.#o.pin });
    if (!job) return false;
    await this.#execute(job);
    return true;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let claimed = false;
      if (this.#running.size < this.#o.concurrency) {
        try {
          // The last free slot never goes to a lane this worker already runs: another integration's work always has room.
          const lastSlot = this.#running.size === this.#o.concurrency - 1 && this.#o.concurrency > 1;
          const job = await claimJob(this.#o.db, this.id, this.#o.leaseMs, this.#o.now(), {
            laneLimit: this.#o.laneLimit,
            avoidLanes: lastSlot ? [...this.#running.values()].map((r) => r.lane).filter((l): l is string => l !== null) : [],
            pin: this.#o.pin,
          });
          if (job) {
            claimed = true;
            const task = this.#execute(job).finally(() => {
              this.#running.delete(entry);
              this.#wake?.();
            });
            const entry = { task, lane: job.lane };
            this.#running.add(entry);
          }
        } catch (err) {
          this.#o.logger.error("job claim failed", { error: err });
        }
      }
      if (!claimed && !this.#stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.#o.pollMs);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
      }
    }
  }

  async #execute(job: Job): Promise<void> {
    const { db, logger, now, leaseMs } = this.#o;
    const log = logger.child({ jobId: job.id, jobType: job.type, attempt: job.attempts });
    const handler = this.#o.handlers.get(job.type);
    const lost = new AbortController();
    const held = new Set<Job>();
    const companions: Companions = {
      claim: async (keyPrefix, limit, accept) => {
        const claimed = await claimCompanions(db, job, { keyPrefix, limit, leaseMs, now: now(), accept });
        for (const c of claimed) held.add(c);
        return claimed;
      },
      settle: async (companion, outcome) => {
        if (!held.delete(companion)) return;
        if (!outcome) return completeJob(db, companion, now());
        if (outcome.error instanceof NotYet) return deferJob(db, companion, outcome.error.message, now(), outcome.error.afterMs);
        const message = redactText(outcome.error instanceof Error ? outcome.error.message : String(outcome.error));
        const result = await failJob(db, companion, message, now(), outcome.retryAfterMs ?? retryAfter(outcome.error));
        log.warn(result === "failed" ? "job failed" : "job will be retried", { companionOf: job.id, jobId: companion.id, error: message });
      },
    };
    const heartbeat = setInterval(
      () => {
        for (const c of held) extendLease(db, c, leaseMs, now()).catch((err) => log.warn("job lease renewal failed", { jobId: c.id, error: err }));
        extendLease(db, job, leaseMs, now())
          .then((held) => {
            if (held || lost.signal.aborted) return;
            log.warn("job lease lost: another attempt holds the job now; this one's outcome is not recorded");
            lost.abort(new Error(`The lease on job ${job.id} was lost.`));
          })
          .catch((err) => log.warn("job lease renewal failed", { error: err }));
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    const started = performance.now();
    try {
      if (!handler) throw new Error(`No handler is registered for jobs of type "${job.type}".`);
      // Background work: it takes turns with people's requests for the database (asBackground).
      await asBackground(() =>
        handler({
          job,
          payload: JSON.parse(job.payload),
          logger: log,
          progress: (p) => setJobProgress(db, job.id, p, now(), job.locked_by),
          signal: lost.signal,
          companions,
          fence: async (trx) => {
            if (!(await holdsJob(trx, job))) {
              lost.abort(new JobLeaseLost(job.id));
              throw new JobLeaseLost(job.id);
            }
          },
        }),
      );
      for (const c of [...held]) await companions.settle(c, { error: new Error(`Job ${job.id} ended without doing this job's work; it will be tried again.`) });
      if (lost.signal.aborted) return void log.warn("job attempt ended after its lease was lost; the attempt holding the job decides");
      await completeJob(db, job, now());
      jobDuration.observe({ type: job.type, outcome: "succeeded" }, (performance.now() - started) / 1000);
      log.info("job succeeded");
    } catch (err) {
      for (const c of [...held]) await companions.settle(c, { error: err }).catch((e) => log.warn("job companion not put back", { jobId: c.id, error: e }));
      if (lost.signal.aborted || err instanceof JobLeaseLost)
        return void log.warn("job attempt failed after its lease was lost; the attempt holding the job decides");
      if (err instanceof NotYet) {
        await deferJob(db, job, err.message, now(), err.afterMs);
        return void log.info("job put back until its turn", { reason: err.message, afterMs: err.afterMs });
      }
      const message = redactText(err instanceof Error ? err.message : String(err));
      const retryAfterMs = retryAfter(err);
      const outcome = handler
        ? await failJob(db, job, message, now(), retryAfterMs)
        : await failJob(db, { ...job, attempts: job.max_attempts }, message, now());
      jobDuration.observe({ type: job.type, outcome }, (performance.now() - started) / 1000);
      log.warn(outcome === "failed" ? "job failed" : "job will be retried", { error: message });
    } finally {
      clearInterval(heartbeat);
    }
  }
}

/** The wait a rate-limited service asked for, if it said. */
function retryAfter(err: unknown): number | undefined {
  return err instanceof RateLimitedError && err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : undefined;
}
