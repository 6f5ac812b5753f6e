// The writer's turn between threads of one process. SQLite lets one connection write at a time;
// a connection that finds the file locked sleeps in its busy handler, and better-sqlite3's busy
// handler blocks its whole thread — for the main thread, every request. Connections that share
// this lock (the main thread's and a scan thread's, each over its own handle on one file) wait
// for it asynchronously instead, before they begin writing, and SQLite's lock is then free.
//
// Three cells in shared memory: who holds the turn (0: nobody, else the holder's id), how many
// waits the main thread has outstanding, and whether a scan thread is starving. A polite holder (a
// scan thread) waits while the main thread waits, and cuts its transactions short when the main
// thread asks (contended()): people's writes never wait behind a whole import transaction. But the
// main thread hands its turn from one write to the next within a microtask, before a waiting thread
// wakes: under a steady stream of pushes a scan could wait until the process was killed, ten
// times over (the crash soak). So a thread that has waited STARVE_MS says so, and the main thread's
// next write waits until it has had its turn (at most RECHECK_MS, should the thread have ended).

const HOLDER = 0;
const MAIN_WAITING = 1;
const STARVING = 2;
/** How long a scan thread waits before the main thread lets it go first. */
const STARVE_MS = 100;
/** How often a wait looks again though nobody woke it (a wake-up lost to a race, a holder that ended). */
const RECHECK_MS = 250;

type WaitAsync = (cells: Int32Array, index: number, value: number, timeoutMs: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

async function waitWhile(cells: Int32Array, index: number, value: number, ms = RECHECK_MS): Promise<void> {
  const result = waitAsync(cells, index, value, Math.max(1, ms));
  if (result.async) await result.value;
}

export class WriterLock {
  readonly buffer: SharedArrayBuffer;
  readonly #cells: Int32Array;
  readonly #id: number;
  readonly #polite: boolean;

  /** `id`: this thread's, unique among those sharing `buffer` (the main thread is 1); `polite`: gives way to the main thread. */
  constructor(options: { buffer?: SharedArrayBuffer; id?: number; polite?: boolean } = {}) {
    this.buffer = options.buffer ?? new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT);
    this.#cells = new Int32Array(this.buffer);
    this.#id = options.id ?? 1;
    this.#polite = options.polite ?? false;
  }

  /** Waits, without blocking the thread, until this thread holds the writer's turn. */
  async acquire(): Promise<void> {
    const cells = this.#cells;
    if (!this.#polite) {
      // A starving thread goes first (not counted as the main thread waiting, which it would wait for).
      const since = performance.now();
      while (Atomics.load(cells, STARVING) === 1) {
        const left = RECHECK_MS - (performance.now() - since);
        if (left <= 0) {
          Atomics.store(cells, STARVING, 0); // the thread ended while it waited
          break;
        }
        await waitWhile(cells, STARVING, 1, left);
      }
      if (Atomics.compareExchange(cells, HOLDER, 0, this.#id) === 0) return;
      Atomics.add(cells, MAIN_WAITING, 1);
      try {
        for (;;) {
          const holder = Atomics.compareExchange(cells, HOLDER, 0, this.#id);
          if (holder === 0) return;
          await waitWhile(cells, HOLDER, holder);
        }
      } finally {
        Atomics.sub(cells, MAIN_WAITING, 1);
        Atomics.notify(cells, MAIN_WAITING);
      }
    }
    const since = performance.now();
    for (;;) {
      const waited = performance.now() - since;
      if (waited >= STARVE_MS) Atomics.store(cells, STARVING, 1);
      const starving = Atomics.load(cells, STARVING) === 1;
      const waiting = Atomics.load(cells, MAIN_WAITING);
      if (waiting > 0 && !starving) {
        await waitWhile(cells, MAIN_WAITING, waiting, STARVE_MS - waited);
        continue;
      }
      const holder = Atomics.compareExchange(cells, HOLDER, 0, this.#id);
      if (holder === 0) {
        if (Atomics.compareExchange(cells, STARVING, 1, 0) === 1) Atomics.notify(cells, STARVING);
        return;
      }
      await waitWhile(cells, HOLDER, holder, starving ? RECHECK_MS : STARVE_MS - waited);
    }
  }

  release(): void {
    if (Atomics.compareExchange(this.#cells, HOLDER, this.#id, 0) === this.#id) Atomics.notify(this.#cells, HOLDER);
  }

  /** This polite holder should end its transaction soon: the main thread waits for the writer. */
  contended(): boolean {
    return this.#polite && Atomics.load(this.#cells, MAIN_WAITING) > 0;
  }

  /** Frees the turn if the thread `id` held it when it ended (a thread that failed mid-transaction). */
  releaseFor(id: number): void {
    if (Atomics.compareExchange(this.#cells, HOLDER, id, 0) === id) Atomics.notify(this.#cells, HOLDER);
  }

  /** Who holds the turn (0: nobody). */
  holder(): number {
    return Atomics.load(this.#cells, HOLDER);
  }
}
