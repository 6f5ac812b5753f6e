// Static files (CSS, htmx, the small script for dialogs and tabs) under /static/.
import fs from "node:fs";
import { type Context, Hono } from "hono";
import { serveStatic } from "@hono/node-server/serve-static";
import { STATIC_DIRS } from "../paths.js";
import type { AppEnv } from "./context.js";
import { setResponseHeader } from "./render.js";

export function staticRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const cache = async (c: Context, next: () => Promise<void>) => {
    await next();
    setResponseHeader(c, "Cache-Control", "public, max-age=3600");
  };
  for (const root of STATIC_DIRS.filter((dir) => fs.existsSync(dir))) {
    app.use("/static/*", cache, serveStatic({ root, rewriteRequestPath: (p) => p.replace(/^\/static/, "") }));
  }
  return app;
}
