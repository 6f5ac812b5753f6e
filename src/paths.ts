// Where the templates and static files are: beside the bundle's parent (dist/..) or the
// source tree's, found by walking up from this module so tests and the bundle agree.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (fs.existsSync(path.join(dir, "views", "layout.eta"))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error("Cannot find Patchbay's views/ directory next to the application.");
}

export const APP_ROOT = findRoot();
export const VIEWS_DIR = path.join(APP_ROOT, "views");
/** Static files: the committed public/ first, then what the build copies (htmx). */
export const STATIC_DIRS = [path.join(APP_ROOT, "public"), path.join(APP_ROOT, "dist", "public")];
