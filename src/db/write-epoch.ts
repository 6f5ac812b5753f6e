// Each database handle counts the writes made through it: a statement that writes outside a
// transaction, and every transaction's end, move the count on once the change is visible to
// readers. What was read before the count moved may be out of date; what a view computed at one
// count holds until the count moves (src/web/view-cache.ts). Writes through other handles — a
// scan thread's own, another replica's — are not counted here.
import type { Db } from "./schema.js";

export class WriteEpoch {
  #n = 0;
  get value(): number {
    return this.#n;
  }
  /** Called after a write is committed (or a transaction has ended either way). */
  moved(): void {
    this.#n++;
  }
}

const epochs = new WeakMap<Db, WriteEpoch>();

/** Ties a handle to the count its driver keeps. */
export function countWrites(db: Db, epoch: WriteEpoch): void {
  epochs.set(db, epoch);
}

/** The handle's write count now; undefined for a handle whose writes are not counted (then nothing may be reused). */
export function writeEpoch(db: Db): number | undefined {
  return epochs.get(db)?.value;
}
