// The services Patchbay's engines, jobs and routes are given: built once at the composition
// root (src/runtime.ts) and passed down whole. Nothing below builds its own database handle,
// vault, catalogue or clock; tests pass their own clock and HTTP options through here.
import type { ConnectorEnvironment } from "./connectors/context.js";
import type { ConnectorCatalogue } from "./connectors/catalogue.js";
import type { Connector } from "./connectors/types.js";
import type { Db } from "./db/schema.js";
import type { Logger } from "./log.js";
import type { ScanThreads } from "./findings/scan-threads.js";
import type { Vault } from "./vault.js";

export interface Services {
  db: Db;
  /** Seals and opens stored credentials. */
  vault: Vault;
  /** The connector catalogue. */
  catalogue: ConnectorCatalogue;
  /** What connectors are given: the logger, proxy, origin map, pacing clock and HTTP options. */
  env: ConnectorEnvironment;
  logger: Logger;
  now: () => Date;
  /** PATCHBAY_BASE_URL: links in tickets and notifications, and where webhooks point. */
  baseUrl: string;
  /** Where uploads are spooled while they are read (PATCHBAY_SPOOL_DIR). */
  spoolDir: string;
  /** Wakes the job worker after an enqueue. */
  notifyWorker: () => void;
  /** Queues the first sync of a connected integration, where its kind has one; true when it queued one. */
  firstSync(db: Db, connector: Connector, integrationId: number, now: Date): Promise<boolean>;
  /** Where scans run in threads of their own (the server); unset, they run on the main thread. */
  scanThreads?: ScanThreads;
}
