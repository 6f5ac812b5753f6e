// Bundles src/ into dist/server.js with esbuild and copies htmx into dist/public.
// Native modules stay external: they are installed as dependencies next to the bundle, as are
// undici, which only PATCHBAY_OUTBOUND_DENY_PRIVATE loads (it would double the bundle), the
// large libraries only some features load (nodemailer for e-mail, yaml for configuration as
// code, ajv for the configuration schema), and prom-client (the metrics; bundled, its
// OpenTelemetry dependency alone would add 200 KB): each is a production dependency, so
// `npm ci` and the image (which copies node_modules) have it beside dist/.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.dirname(fileURLToPath(import.meta.url));
const external = ["better-sqlite3", "@node-rs/argon2", "undici", "nodemailer", "yaml", "ajv", "prom-client"];

await build({
  entryPoints: [path.join(root, "src/server.ts")],
  outfile: path.join(root, "dist/server.js"),
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  sourcemap: true,
  external,
  // Bundled CommonJS code may call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __patchbayCreateRequire } from 'node:module'; const require = __patchbayCreateRequire(import.meta.url);" },
  logLevel: "warning",
});

fs.mkdirSync(path.join(root, "dist/public"), { recursive: true });
fs.copyFileSync(path.join(root, "node_modules/htmx.org/dist/htmx.min.js"), path.join(root, "dist/public/htmx.min.js"));
