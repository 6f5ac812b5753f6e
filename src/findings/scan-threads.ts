// Scans in threads of their own. A scan fetches, parses and normalises the scanner's pages and
// writes them in transactions; on the main thread all of that took turns with people's requests,
// and with fifty people browsing an import kept a fifth of its pace alone. In a thread it has a
// core's time of its own: it opens its own handle on the database (SQLite: the writer's turn
// shared with the main thread through a WriterLock; PostgreSQL: a small pool of its own), runs the
// same handler as the main thread would (sync.ts: scanHere) and reports its log lines and its
// outcome. The job itself — its lease, retries and recorded outcome — stays the main thread's;
// the thread checks the lease in each of its transactions, as the handler does anywhere.
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { Config } from "../config.js";
import type { WriterLock } from "../db/writer-lock.js";
import { RateLimitedError } from "../http.js";
import type { LogFields } from "../log.js";
import { JobLeaseLost, type JobContext } from "../jobs/worker.js";
import { APP_ROOT } from "../paths.js";

/** The thread's script: built beside the server (build.mjs). */
export const SCAN_THREAD_SCRIPT = path.join(APP_ROOT, "dist", "scan-thread.js");

/**
 * The thread's young generation (V8's default is larger): with its own heap and SQLite cache beside
 * the main thread's, a million-finding import peaked at 404 MB, and at 362 MB with 8 MB (and the
 * thread's page cache halved) in about the same time.
 */
const SCAN_THREAD_YOUNG_MB = 8;

/** What a scan thread needs of the configuration to open what the main thread opened. */
export type ScanThreadSettings = Pick<
  Config,
  "databasePath" | "databaseUrl" | "secretKey" | "secretKeyFile" | "originMap" | "proxy" | "outboundDenyPrivate" | "baseUrl" | "spoolDir"
>;

/** Given to the thread at its start. */
export interface ScanThreadData {
  settings: ScanThreadSettings;
  job: JobContext["job"];
  /** The writer's turn (SQLite), and the thread's id in it. */
  lock?: { buffer: SharedArrayBuffer; id: number };
}

/** Why a scan in a thread failed, in what crosses threads (an error's class does not). */
export interface ThreadFailure {
  name: string;
  message: string;
  leaseLost?: boolean;
  service?: string;
  retryAfterSeconds?: number;
}

export type ThreadMessage =
  | { type: "log"; level: "debug" | "info" | "warn" | "error"; msg: string; fields: LogFields }
  | { type: "notify" }
  | { type: "done" }
  | { type: "failed"; failure: ThreadFailure };

/** An error as the thread reports it: what the job's outcome and retry need. */
export function describeFailure(err: unknown): ThreadFailure {
  if (err instanceof JobLeaseLost) return { name: err.name, message: err.message, leaseLost: true };
  if (err instanceof RateLimitedError) return { name: err.name, message: err.message, service: err.service, retryAfterSeconds: err.retryAfterSeconds };
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: "Error", message: String(err) };
}

/** The error the main thread's job throws for a thread's failure (a rate limit keeps its wait). */
export function failureError(failure: ThreadFailure, jobId: number): Error {
  if (failure.leaseLost) return new JobLeaseLost(jobId);
  if (failure.retryAfterSeconds !== undefined) return new RateLimitedError(failure.service ?? "The scanner", failure.message, failure.retryAfterSeconds);
  const err = new Error(failure.message);
  err.name = failure.name;
  return err;
}

export class ScanThreads {
  readonly #settings: ScanThreadSettings;
  readonly #lock: WriterLock | undefined;
  readonly #notify: () => void;
  readonly #script: string;
  /** Thread ids in the writer's turn: the main thread is 1. */
  #nextId = 2;

  constructor(options: { settings: ScanThreadSettings; lock?: WriterLock; notify: () => void; script?: string }) {
    // Only these cross to the thread: the rest of a Config need not be cloneable.
    const { databasePath, databaseUrl, secretKey, secretKeyFile, originMap, proxy, outboundDenyPrivate, baseUrl, spoolDir } = options.settings;
    this.#settings = { databasePath, databaseUrl, secretKey, secretKeyFile, originMap, proxy, outboundDenyPrivate, baseUrl, spoolDir };
    this.#lock = options.lock;
    this.#notify = options.notify;
    this.#script = options.script ?? SCAN_THREAD_SCRIPT;
  }

  /** Runs the scan job in a new thread; settles when the thread has ended. */
  run(ctx: JobContext<{ integrationId: number }>): Promise<void> {
    const id = this.#nextId++;
    const data: ScanThreadData = {
      settings: this.#settings,
      job: ctx.job,
      lock: this.#lock ? { buffer: this.#lock.buffer, id } : undefined,
    };
    return new Promise<void>((resolve, reject) => {
      let outcome: { ok: true } | { error: Error } | undefined;
      let thread: Worker;
      try {
        thread = new Worker(this.#script, { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: SCAN_THREAD_YOUNG_MB } });
      } catch (err) {
        reject(new Error(`The scan could not start its thread (${(err as Error).message}); check that Patchbay's dist/ folder is complete.`));
        return;
      }
      const abort = () => thread.postMessage({ type: "abort" });
      ctx.signal.addEventListener("abort", abort, { once: true });
      thread.on("message", (m: ThreadMessage) => {
        if (m.type === "log") ctx.logger[m.level](m.msg, m.fields);
        else if (m.type === "notify") this.#notify();
        else {
          outcome = m.type === "done" ? { ok: true } : { error: failureError(m.failure, ctx.job.id) };
          // Its database is closed before it reports: nothing is left for it to do.
          void thread.terminate();
        }
      });
      thread.on("error", (err) => {
        outcome ??= { error: new Error(`The scan's thread failed: ${err.message}. The scan will be tried again.`) };
      });
      thread.on("exit", (code) => {
        ctx.signal.removeEventListener("abort", abort);
        // A thread that ended mid-transaction (its handle's transaction is rolled back) gives up its turn.
        this.#lock?.releaseFor(id);
        if (outcome && "ok" in outcome) resolve();
        else reject(outcome?.error ?? new Error(`The scan's thread stopped (exit code ${code}) before it reported; the scan will be tried again.`));
      });
    });
  }
}
