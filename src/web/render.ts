// Rendering: Eta templates (escaping by default) with the data every page needs.
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
  const html = deps.views.render(template, {
    ...data,
    user: c.get("user"),
    path: c.req.path,
    requestId: c.get("requestId"),
    // A full page asked for by htmx (an error page, say) is swapped into part of the page: only its content.
    fragment: isHtmx(c),
  });
  return c.html(html, status);
}

/** A redirect that also works for htmx requests, which would otherwise swap the target page in place. */
export function redirect<E extends AppEnv>(c: Context<E>, location: string) {
  if (isHtmx(c)) {
    c.header("HX-Redirect", location);
    return c.body(null, 204);
  }
  return c.redirect(location, 303);
}
