// Rendering: Eta templates (escaping by default) with the data every page needs.
import { randomUUID } from "node:crypto";
import type { Context } from "hono";
import type { AppDeps, AppEnv } from "./context.js";

export function isHtmx<E extends AppEnv>(c: Context<E>): boolean {
  return c.req.header("hx-request") === "true" && c.req.header("hx-history-restore-request") !== "true";
}

/** Renders a page; `c` is any route's context (sub-apps add their own variables to AppEnv's). */
export function render<E extends AppEnv>(
  c: Context<E>,
  deps: AppDeps,
  template: string,
  data: Record<string, unknown> = {},
  status: 200 | 400 | 403 | 404 | 409 | 413 | 421 | 422 | 429 | 500 | 503 = 200,
) {
  return c.html(deps.views.render(template, pageData(c, data)), status);
}

/** What every page's template is given beside its own data. */
function pageData<E extends AppEnv>(c: Context<E>, data: Record<string, unknown>): Record<string, unknown> {
  return {
    ...data,
    user: c.get("user"),
    path: c.req.path,
    requestId: c.get("requestId"),
    // A full page asked for by htmx (an error page, say) is swapped into part of the page: only its content.
    fragment: isHtmx(c),
  };
}

/** HTML already encoded (a kept part of a page, sent alone to htmx). */
export function htmlBytes<E extends AppEnv>(c: Context<E>, bytes: Uint8Array<ArrayBuffer>): Response {
  return c.body(bytes, 200, { "Content-Type": HTML });
}

const HTML = "text/html; charset=UTF-8";

/**
 * Where a page's kept part goes: a comment no escaped text can contain (escaping turns "<" into
 * "&lt;"), with a token of this process's own.
 */
const PART_SLOT = `<!--part:${randomUUID()}-->`;

/**
 * A page around a part rendered and encoded before (a view reused between requests: view-cache.ts),
 * sent as three chunks with the part's bytes as they are kept (or without it, where the template
 * does not place it). As one string the page was copied
 * whole for every request: over 128 KB (64,000 characters outside Latin-1, as "→" makes them)
 * V8 allocates each copy in fresh memory, and finding its length alone took a millisecond — a
 * sixth of the server's time under fifty people browsing (npm run test:soak).
 */
export function renderAround<E extends AppEnv>(
  c: Context<E>,
  deps: AppDeps,
  template: string,
  data: Record<string, unknown>,
  part: { name: string; bytes: Uint8Array<ArrayBuffer> },
): Response {
  const html = deps.views.render(template, pageData(c, { ...data, [part.name]: PART_SLOT }));
  const at = html.indexOf(PART_SLOT);
  // A page that does not show the part (nothing to show yet, say) is sent as it is.
  if (at < 0) return c.html(html);
  if (html.indexOf(PART_SLOT, at + 1) >= 0) throw new Error(`${template} places it.${part.name} more than once`);
  const chunks = [Buffer.from(html.slice(0, at)), part.bytes, Buffer.from(html.slice(at + PART_SLOT.length))];
  const length = chunks.reduce((n, chunk) => n + chunk.byteLength, 0);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  return c.body(body, 200, { "Content-Type": HTML, "Content-Length": String(length) });
}

/**
 * Sets a header on the response a handler already made (middleware, after `next()`). Hono's
 * `c.header` would rebuild that response from its body, and for a page's HTML string that turns
 * the node server's direct write into a web stream, the string checked and copied on the way:
 * a tenth of the server's time under 50 browsing users. The response's own headers are set in
 * place instead; only headers that cannot change (a fetched response's) take the rebuild.
 */
export function setResponseHeader(c: Context, name: string, value: string): void {
  try {
    c.res.headers.set(name, value);
  } catch {
    c.header(name, value);
  }
}

/** A redirect that also works for htmx requests, which would otherwise swap the target page in place. */
export function redirect<E extends AppEnv>(c: Context<E>, location: string) {
  if (isHtmx(c)) {
    c.header("HX-Redirect", location);
    return c.body(null, 204);
  }
  return c.redirect(location, 303);
}
