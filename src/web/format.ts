// How pages write dates, counts and plurals: one way each, for every template. Times are
// stored as ISO 8601 in UTC and shown in UTC, so a time on a page matches the logs and the
// services' own records; the <time datetime> attribute keeps the full value for machines.
//
// (navigation, from nav.ts, is the layout's.)
// Templates call these by name (views are compiled with them in scope: see viewEngine).

import { navigation } from "./nav.js";

/** A moment: "2026-12-05 14:03 UTC". Events, runs, deliveries, changes. */
export function moment(iso: string | null | undefined): string {
  if (!iso) return "";
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** A day: "2026-12-05". Deadlines, expiries, creation dates, first detections in tables. */
export function day(iso: string | null | undefined): string {
  return iso ? iso.slice(0, 10) : "";
}

/** A count with thousands separators: "12,345". */
export function count(n: number): string {
  return n.toLocaleString("en");
}

/** A count and its noun: "1 finding", "3 findings", "2 repositories" (with the plural given). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** A scanner's raw record, indented for reading; as it came when it is not JSON. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/**
 * A link into a service, as this Patchbay's pages show it: unchanged, except where
 * PATCHBAY_ORIGIN_MAP (demos and tests) routes the service's origin to a simulator, so that a
 * ticket's link opens the simulator's own page.
 */
export function serviceLinks(originMap: ReadonlyMap<string, string>): (url: string | null | undefined) => string {
  return (url) => {
    if (!url) return "";
    for (const [from, to] of originMap) if (url === from || url.startsWith(`${from}/`)) return to + url.slice(from.length);
    return url;
  };
}

export const helpers = { moment, day, count, plural, prettyJson, navigation, serviceLink: serviceLinks(new Map()) };

/** The line every compiled view starts with: the helpers, in scope by name. */
export const HELPERS_HEADER = "const { moment, day, count, plural, prettyJson, navigation, serviceLink } = this.config.helpers;";
