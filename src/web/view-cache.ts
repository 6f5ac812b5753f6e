// A view's rendered HTML reused for a moment. Fifty people browsing during an import asked for
// the same few views over and over, and each time the same rows were read, the same counts made
// and the same 50–120 KB of markup built and copied: three quarters of the server's time, and
// pages at 350 ms p95 (npm run test:soak). A view is now reused while it is younger than a second
// and no write has gone through this process's database handle since it was made: a person's
// own change (a status, a ticket pushed, a job's write) shows at the next page; a write this
// process did not make — an import in its thread, another replica — shows within the second.
import { writeEpoch } from "../db/write-epoch.js";
import type { Db } from "../db/schema.js";

/** How long a view is reused at most (ms), unless PATCHBAY_VIEW_REUSE_MS says otherwise. */
export const VIEW_REUSE_MS = 1000;

export class ViewCache<V> {
  readonly #entries = new Map<string, { epoch: number; at: number; value: Promise<V> }>();
  readonly #max: number;
  readonly #reuseMs: number;
  readonly #clock: () => number;

  /** `max` views kept (the least recently made go first), each for `reuseMs` at most (0: none); `clock` in ms, monotonic. */
  constructor(options: { max: number; reuseMs?: number; clock?: () => number }) {
    this.#max = options.max;
    this.#reuseMs = options.reuseMs ?? VIEW_REUSE_MS;
    this.#clock = options.clock ?? (() => performance.now());
  }

  /**
   * The view under `key`, made by `make` unless one made since the last write through `db` and
   * less than `reuseMs` ago is kept (or being made: people asking at once share it). The write
   * count is read before `make` runs: a write that lands while it runs makes the view out of date
   * at once, never current. A view whose making failed is not kept.
   */
  get(db: Db, key: string, make: () => Promise<V>): Promise<V> {
    const epoch = writeEpoch(db);
    if (epoch === undefined || this.#reuseMs === 0) return make();
    const now = this.#clock();
    const kept = this.#entries.get(key);
    if (kept && kept.epoch === epoch && now - kept.at < this.#reuseMs) return kept.value;
    const value = make();
    this.#entries.delete(key);
    this.#entries.set(key, { epoch, at: now, value });
    value.catch(() => {
      if (this.#entries.get(key)?.value === value) this.#entries.delete(key);
    });
    // The oldest first: past their time, or beyond the most kept.
    for (const [k, entry] of this.#entries) {
      if (this.#entries.size <= this.#max && now - entry.at < this.#reuseMs) break;
      this.#entries.delete(k);
    }
    return value;
  }
}
