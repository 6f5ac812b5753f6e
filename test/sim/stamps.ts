// Event times for simulated webhook payloads: every real delivery carries the time of its
// change (updated_at, updated_on), so two events are never the same bytes. Each call is one
// second after the last, so payloads made in the same millisecond still differ.
let last = Date.parse("2026-11-01T00:00:00Z");

export function eventStamp(): Date {
  last = Math.max(last + 1000, Math.floor(Date.now() / 1000) * 1000);
  return new Date(last);
}
