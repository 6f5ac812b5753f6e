// What every route module is given, and the Hono environment they share.
import type { Eta } from "eta";
import type { ConnectorRegistry } from "../connectors/registry.js";
import type { Db, User } from "../db/schema.js";
import type { ConnectorEnvironment } from "../connectors/context.js";
import type { Logger } from "../log.js";
import type { Vault } from "../vault.js";
import type { TrustedProxies } from "../client-address.js";

export interface AppDeps {
  db: Db;
  vault: Vault;
  registry: ConnectorRegistry;
  logger: Logger;
  views: Eta;
  baseUrl: string;
  /** PATCHBAY_BASE_URL was set: pages answer only on its host. */
  baseUrlSet: boolean;
  trustedProxies: TrustedProxies;
  /** Where uploads are spooled (PATCHBAY_SPOOL_DIR). */
  spoolDir: string;
  /** Why the database cannot be written now (a full disk), or undefined. */
  storageProblem: () => string | undefined;
  connectorEnv: ConnectorEnvironment;
  now: () => Date;
  /** Wakes the job worker after an enqueue. */
  notifyWorker: () => void;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    user: User | undefined;
    sessionId: string | undefined;
    clientIp: string;
  };
}
