// Bundles src/ into dist/server.js and dist/scan-thread.js (a scan's thread: src/findings/scan-threads.ts)
// with esbuild (what they share, and what only some settings load, in dist/chunks/) and copies
// htmx into dist/public.
// Everything is bundled but the native modules (better-sqlite3, @node-rs/argon2), which are
// compiled for the machine and load their binaries from beside themselves. So the image needs no
// dependency tree: `node build.mjs runtime DIR` copies just those modules, with what they need at
// run time, into DIR/node_modules (the Dockerfile's final stage takes that, nothing else).
// Whitespace and syntax are minified (identifiers kept, so stack traces still name functions,
// and the source map points into src/).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.dirname(fileURLToPath(import.meta.url));
const external = ["better-sqlite3", "@node-rs/argon2"];
/** Dependencies native modules use only when they are installed (to fetch or build their binary). */
const INSTALL_ONLY = new Set(["prebuild-install", "node-gyp"]);

/** The packages a native module needs at run time: itself, its dependencies and the platform binaries it loads, recursively. */
function runtimeClosure(names) {
  const found = new Map();
  const visit = (name, from) => {
    let manifest;
    try {
      manifest = createRequire(path.join(from, "noop.js")).resolve(`${name}/package.json`);
    } catch {
      return; // an optional dependency for another platform, not installed here
    }
    const dir = path.dirname(manifest);
    if (found.has(dir)) return;
    found.set(dir, name);
    const pkg = JSON.parse(fs.readFileSync(manifest, "utf8"));
    for (const dep of [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})]) if (!INSTALL_ONLY.has(dep)) visit(dep, dir);
  };
  for (const name of names) visit(name, root);
  return [...found.keys()];
}

if (process.argv[2] === "runtime") {
  const target = path.resolve(process.argv[3] ?? "");
  if (!process.argv[3]) throw new Error("Usage: node build.mjs runtime DIR (copies the native modules into DIR/node_modules).");
  const modules = fs.realpathSync(path.join(root, "node_modules"));
  for (const dir of runtimeClosure(external)) {
    const relative = path.relative(modules, dir);
    fs.cpSync(dir, path.join(target, "node_modules", relative), {
      recursive: true,
      // Build leftovers (C sources, object files, static libraries, test binaries) are not needed to run.
      filter: (src) =>
        !/^(deps|src|build\/(deps|Release\/(obj|obj\.target|\.deps|test_extension\.node|[^/]*\.a)))(\/|$)/.test(
          path.relative(dir, src).split(path.sep).join("/"),
        ),
    });
  }
  process.exit(0);
}

await build({
  // A scan runs in a thread of its own (src/findings/scan-threads.ts), from its own entry point.
  entryPoints: { server: path.join(root, "src/server.ts"), "scan-thread": path.join(root, "src/scan-thread.ts") },
  outdir: path.join(root, "dist"),
  // What is imported only when a setting asks for it (undici, for proxies and the outbound
  // address guard) goes into dist/chunks/, read from disk the first time it is used.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  sourcemap: true,
  minifyWhitespace: true,
  minifySyntax: true,
  external,
  // Bundled CommonJS code may call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __patchbayCreateRequire } from 'node:module'; const require = __patchbayCreateRequire(import.meta.url);" },
  logLevel: "warning",
});

fs.mkdirSync(path.join(root, "dist/public"), { recursive: true });
fs.copyFileSync(path.join(root, "node_modules/htmx.org/dist/htmx.min.js"), path.join(root, "dist/public/htmx.min.js"));
