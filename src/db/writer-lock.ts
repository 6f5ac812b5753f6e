// The writer's turn between threads of one process. SQLite lets one connection write at a time;
// a connection that finds the file locked sleeps in its busy handler, and better-sqlite3's busy
// handler blocks its whole thread — for the main thread, every request. Connections that share
// this lock (the main thread's and a scan thread's, each over its own handle on one file) wait
// for it asynchronously instead, before they begin writing, and SQLite's lock is then free.
//
// Two cells in shared memory: who holds the turn (0: nobody, else the holder's id), and how many
// waits the main thread has outstanding. A polite holder (a scan thread) waits while the main
// thread waits, and cuts its transactions short when the main thread asks (contended()): people's
// writes never wait behind a whole import transaction.

const HOLDER = 0;
const MAIN_WAITING = 1;
/** How often a wait looks again though nobody woke it (a wake-up lost to a race, a holder that ended). */
const RECHECK_MS = 250;

type WaitAsync = (cells: Int32Array, index: number, value: number, timeoutMs: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

async function waitWhile(cells: Int32Array, index: number, value: number): Promise<void> {
  const result = waitAsync(cells, index, value, RECHECK_MS);
  if (result.async) await result.value;
}

export class WriterLock {
  readonly buffer: SharedArrayBuffer;
  readonly #cells: Int32Array;
  readonly #id: number;
  readonly #polite: boolean;

  /** `id`: this thread's, unique among those sharing `buffer` (the main thread is 1); `polite`: gives way to the main thread. */
  constructor(options: { buffer?: SharedArrayBuffer; id?: number; polite?: boolean } = {}) {
    this.buffer = options.buffer ?? new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
    this.#cells = new Int32Array(this.buffer);
    this.#id = options.id ?? 1;
    this.#polite = options.polite ?? false;
  }

  /** Waits, without blocking the thread, until this thread holds the writer's turn. */
  async acquire(): Promise<void> {
    const cells = this.#cells;
    if (!this.#polite) {
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
    for (;;) {
      const waiting = Atomics.load(cells, MAIN_WAITING);
      if (waiting > 0) {
        await waitWhile(cells, MAIN_WAITING, waiting);
        continue;
      }
      const holder = Atomics.compareExchange(cells, HOLDER, 0, this.#id);
      if (holder === 0) return;
      await waitWhile(cells, HOLDER, holder);
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
