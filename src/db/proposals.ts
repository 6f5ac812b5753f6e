// A change an admin proposed and a job is previewing (an SLA policy, remediation policy rules):
// the value, who proposed it and when, and the preview's result once it is in. One per key; a
// newer proposal replaces the older, and a preview only lands on the proposal it was made for.
import { deleteMeta, readMeta, writeMeta } from "./meta.js";
import type { Db } from "./schema.js";

export interface Proposal<V, R> {
  value: V;
  by: string;
  /** When it was proposed: its identity (the preview job and the apply form carry it). */
  at: string;
  result: R | null;
}

export function proposalStore<V, R>(key: string) {
  const load = async (db: Db): Promise<Proposal<V, R> | undefined> => {
    const value = await readMeta(db, key);
    return value ? (JSON.parse(value) as Proposal<V, R>) : undefined;
  };
  return {
    load,
    async save(db: Db, value: V, by: string, at: string): Promise<void> {
      await writeMeta(db, key, JSON.stringify({ value, by, at, result: null } satisfies Proposal<V, R>));
    },
    /** Records a proposal's preview, unless another proposal replaced it meanwhile. */
    async saveResult(db: Db, at: string, result: R): Promise<void> {
      const current = await load(db);
      if (current?.at !== at) return;
      await writeMeta(db, key, JSON.stringify({ ...current, result } satisfies Proposal<V, R>));
    },
    async clear(db: Db): Promise<void> {
      await deleteMeta(db, key);
    },
  };
}
