// The worker loop: claims due jobs, runs their handlers with a heartbeat that keeps the
// lease alive, and records success, a retry with backoff, or final failure. Handlers are
// registered by type; a job of an unknown type fails with a message rather than vanishing.
import os from "node:os";
import crypto from "node:crypto";
import type { Db, Job } from "../db/schema.js";
import { RateLimitedError } from "../http.js";
import { type Logger, redactText } from "../log.js";
import { jobDuration } from "../metrics.js";
import { claimJob, completeJob, extendLease, failJob, type JobKind, type JobProgress, setJobProgress } from "./queue.js";

export interface JobContext<P = unknown> {
  job: Job;
  /** The payload as the job's kind declares it. */
  payload: P;
  logger: Logger;
  progress(progress: JobProgress): Promise<void>;
  /** Aborted when this attempt's lease is lost (another attempt now holds the job): long work should stop. */
  signal: AbortSignal;
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
    const heartbeat = setInterval(
      () => {
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
      await handler({
        job,
        payload: JSON.parse(job.payload),
        logger: log,
        progress: (p) => setJobProgress(db, job.id, p, now(), job.locked_by),
        signal: lost.signal,
      });
      if (lost.signal.aborted) return void log.warn("job attempt ended after its lease was lost; the attempt holding the job decides");
      await completeJob(db, job, now());
      jobDuration.observe({ type: job.type, outcome: "succeeded" }, (performance.now() - started) / 1000);
      log.info("job succeeded");
    } catch (err) {
      if (lost.signal.aborted) return void log.warn("job attempt failed after its lease was lost; the attempt holding the job decides");
      const message = redactText(err instanceof Error ? err.message : String(err));
      const retryAfterMs = err instanceof RateLimitedError && err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : undefined;
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
