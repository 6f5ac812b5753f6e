// A scan thread's entry and composition root (built to dist/scan-thread.js; started by
// src/findings/scan-threads.ts): opens its own handle on the database and the vault, runs one
// scan job with the handler the main thread would run, and reports its log lines (redacted here,
// where its secrets were decrypted) and its outcome.
import os from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { connectorEnvironment } from "./connectors/context.js";
import { defaultCatalogue } from "./connectors/catalogue.js";
import { asBackground, openDatabase } from "./db/database.js";
import { openPostgres } from "./db/postgres.js";
import { WriterLock } from "./db/writer-lock.js";
import { holdsJob, setJobProgress } from "./jobs/queue.js";
import { JobLeaseLost } from "./jobs/worker.js";
import { type LogFields, type Logger, redactFields, redactText } from "./log.js";
import type { Services } from "./services.js";
import { startFirstSync } from "./sync-kinds.js";
import { openVault } from "./vault.js";
import { describeFailure, type ScanThreadData, type ThreadMessage } from "./findings/scan-threads.js";
import { scanHere } from "./findings/sync.js";

const port = parentPort!;
const post = (message: ThreadMessage) => port.postMessage(message);
const { settings, job, lock } = workerData as ScanThreadData;

/** Log lines go to the main thread's job logger (its level, its job fields), redacted first. */
function forwardingLogger(base: LogFields = {}): Logger {
  const emit = (level: "debug" | "info" | "warn" | "error") => (msg: string, fields?: LogFields) =>
    post({ type: "log", level, msg: redactText(msg), fields: redactFields({ ...base, ...fields }) });
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error"), child: (fields) => forwardingLogger({ ...base, ...fields }) };
}

/**
 * The thread's niceness: people's requests (the main thread) get more of the CPU than the scan. With
 * views reused between writes (web/view-cache.ts) pages answered well within their 300 ms at any
 * niceness, and the import kept 48–54% of its pace at 10, 54–60% at 5, 54–62% at 0 (two or three
 * load soaks each: the spread is the machine's). On Linux niceness is a thread's own (setpriority
 * on the calling thread); elsewhere it would lower the whole process, so it is left alone there.
 */
const SCAN_NICENESS = 5;

async function main(): Promise<void> {
  const logger = forwardingLogger();
  if (process.platform === "linux") {
    try {
      os.setPriority(0, SCAN_NICENESS);
    } catch (err) {
      logger.debug("scan thread keeps its priority", { error: err });
    }
  }
  const slowQuery = (sqlText: string, ms: number) => logger.warn("slow query", { ms, sql: sqlText.slice(0, 500) });
  const database = settings.databaseUrl
    ? await openPostgres(settings.databaseUrl, undefined, slowQuery)
    : await openDatabase(settings.databasePath, slowQuery, { beside: true, lock: lock && new WriterLock({ buffer: lock.buffer, id: lock.id, polite: true }) });
  const { db } = database;
  const lost = new AbortController();
  port.on("message", (m: { type: string }) => {
    if (m.type === "abort") lost.abort(new JobLeaseLost(job.id));
  });
  try {
    const services: Services = {
      db,
      vault: await openVault(db, settings),
      catalogue: defaultCatalogue(),
      env: connectorEnvironment(settings, logger),
      logger,
      now: () => new Date(),
      baseUrl: settings.baseUrl,
      spoolDir: settings.spoolDir,
      notifyWorker: () => post({ type: "notify" }),
      firstSync: startFirstSync,
    };
    await asBackground(() =>
      scanHere(services)({
        job,
        payload: JSON.parse(job.payload) as { integrationId: number },
        logger,
        progress: (p) => setJobProgress(db, job.id, p, new Date(), job.locked_by),
        signal: lost.signal,
        // A scan claims no companions.
        companions: { claim: async () => [], settle: async () => undefined },
        fence: async (trx) => {
          if (!(await holdsJob(trx, job))) throw new JobLeaseLost(job.id);
        },
      }),
    );
    await database.close();
    post({ type: "done" });
  } catch (err) {
    await database.close().catch(() => undefined);
    failed(err);
  }
}

/** The failure, its message redacted of the secrets this thread decrypted. */
function failed(err: unknown): void {
  const failure = describeFailure(err);
  post({ type: "failed", failure: { ...failure, message: redactText(failure.message) } });
}

main().catch(failed);
