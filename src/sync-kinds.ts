// The kinds of sync an integration can have — a scanner's scan, a source control's repository
// listing, a container registry's image inventory, a package registry's package listing — with
// their job, schedule and the words the card uses. One table, so scheduling, "Sync now",
// connecting and the card treat them alike.
import type { Connector } from "./connectors/types.js";
import type { Db } from "./db/schema.js";
import { enqueue, type JobKind } from "./jobs/queue.js";
import { SCAN_JOB, enqueueScan } from "./findings/sync.js";
import { PACKAGES_JOB, enqueuePackageSync } from "./packages/sync.js";
import { REGISTRY_JOB, enqueueRegistrySync } from "./registries/sync.js";
import { SCM_JOB, enqueueRepositorySync } from "./scm/sync.js";

export type SyncCapability = "scanner" | "scm" | "registry" | "packages";

export interface SyncWords {
  /** "Scan", "Repository sync" */
  job: string;
  /** "Scanning", "Listing repositories" */
  running: string;
  /** What a page reads: "findings", "repositories" */
  noun: string;
  /** The first count: "fetched", "tags" */
  fetched: string;
  /** The resolved count: "resolved", "no longer accessible" */
  resolved: string;
}

export interface SyncKind {
  capability: SyncCapability;
  job: JobKind<{ integrationId: number }>;
  intervalHours: number;
  /** Queues a sync (unless one is queued or running). */
  enqueue(db: Db, integrationId: number, now: Date): Promise<number>;
  /** A person's "Scan now": queued, or if one is running (reading the service as it was), another follows it. */
  request(db: Db, integrationId: number, now: Date): Promise<number>;
  /** Queued on connecting; a scan waits a moment so a quick edit does not start two. */
  enqueueOnConnect(db: Db, integrationId: number, now: Date): Promise<number>;
  words: SyncWords;
}

export const SYNC_JOB_TYPES = [SCAN_JOB, SCM_JOB, REGISTRY_JOB, PACKAGES_JOB].map((kind) => kind.type);

/** Queues an integration's first sync (on connecting, and after new credentials); false when its kind has none. */
export async function startFirstSync(db: Db, connector: Connector, integrationId: number, now: Date): Promise<boolean> {
  const sync = syncKind(connector);
  if (!sync) return false;
  await sync.enqueueOnConnect(db, integrationId, now);
  return true;
}

/** See SyncKind.request. */
function requested(kind: JobKind<{ integrationId: number }>): SyncKind["request"] {
  return (db, integrationId, now) => enqueue(db, kind, { integrationId }, now, { again: true });
}

export function syncKind(connector: Connector | undefined): SyncKind | undefined {
  if (!connector) return undefined;
  const c: Connector = connector;
  if (c.scanner) {
    return {
      capability: "scanner",
      job: SCAN_JOB,
      request: requested(SCAN_JOB),
      intervalHours: c.scanner.intervalHours,
      enqueue: (db, id, now) => enqueueScan(db, id, now),
      enqueueOnConnect: (db, id, now) => enqueueScan(db, id, now, 5_000),
      words: { job: "Scan", running: "Scanning", noun: "findings", fetched: "fetched", resolved: "resolved" },
    };
  }
  if (c.scm) {
    return {
      capability: "scm",
      job: SCM_JOB,
      request: requested(SCM_JOB),
      intervalHours: c.scm.intervalHours,
      enqueue: enqueueRepositorySync,
      enqueueOnConnect: enqueueRepositorySync,
      words: { job: "Repository sync", running: "Listing repositories", noun: "repositories", fetched: "repositories", resolved: "no longer accessible" },
    };
  }
  if (c.registry) {
    return {
      capability: "registry",
      job: REGISTRY_JOB,
      request: requested(REGISTRY_JOB),
      intervalHours: c.registry.intervalHours,
      enqueue: enqueueRegistrySync,
      enqueueOnConnect: enqueueRegistrySync,
      words: { job: "Image sync", running: "Listing images", noun: "images", fetched: "tags", resolved: "findings resolved on images gone" },
    };
  }
  if (c.packages) {
    return {
      capability: "packages",
      job: PACKAGES_JOB,
      request: requested(PACKAGES_JOB),
      intervalHours: c.packages.intervalHours,
      enqueue: enqueuePackageSync,
      enqueueOnConnect: enqueuePackageSync,
      words: { job: "Package sync", running: "Listing packages", noun: "packages", fetched: "packages", resolved: "no longer listed" },
    };
  }
  return undefined;
}
