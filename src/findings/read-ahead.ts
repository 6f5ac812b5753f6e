// A scanner's pages read one after another (each needs the cursor the one before gave), ahead of
// the import that takes them: while buffered pages are committed, the next requests go on, so the
// scan waits for the scanner only where the scanner is slower than the import. One request is in
// flight at a time, and no more than `limit` records wait to be taken.
import type { SyncPage } from "../connectors/types.js";

export interface PageReader {
  /** The next page in order (a failed request's error in its place), or undefined after the last. */
  take(): Promise<SyncPage> | undefined;
  /** Asks for nothing more (the scan ended or failed): no request beyond the one in flight. */
  stop(): void;
}

export function readAhead(fetchPage: (cursor: string | null) => Promise<SyncPage>, from: string | null, limit: number): PageReader {
  const queue: Promise<SyncPage>[] = [];
  /** Records fetched and not yet taken. */
  let held = 0;
  /** The cursor to read next; undefined once the last page came or a request failed. */
  let next: string | null | undefined = from;
  let reading = false;
  let stopped = false;

  const pump = () => {
    if (stopped || reading || next === undefined || held >= limit) return;
    reading = true;
    const page = fetchPage(next);
    queue.push(page);
    page.then(
      (p) => {
        held += p.records.length;
        next = p.nextCursor ?? undefined;
        reading = false;
        pump();
      },
      () => {
        next = undefined;
        reading = false;
      },
    );
  };
  pump();

  return {
    take() {
      const page = queue.shift();
      if (!page) return undefined;
      const taken = page.then((p) => {
        held -= p.records.length;
        pump();
        return p;
      });
      taken.catch(() => {}); // the taker awaits it, perhaps after a commit: a failure meanwhile is not "unhandled"
      return taken;
    },
    stop() {
      stopped = true;
    },
  };
}
