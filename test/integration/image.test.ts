// The image's layout, without Docker: the bundle, views and static files beside a node_modules
// that holds only the native modules (what `node build.mjs runtime` copies for the Dockerfile's
// final stage). Patchbay starts from it and the features that load libraries work: sign-in
// (Argon2id), the database, an upload (JSON and multipart parsing), metrics, the API and its
// description, configuration as code (YAML and its JSON Schema), and the outbound proxy (undici).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { ADMIN, TEST_KEY, tempDir } from "../helpers.js";
import { startConnectProxy } from "../sim/connect-proxy.js";
import { HttpSession, ROOT, type ServerProcess, startServer } from "../process.js";

let server: ServerProcess | undefined;
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  // The proxy first: its open tunnel ends, so the feed request in flight fails at once and the
  // server's graceful stop does not wait on it.
  for (const close of closers) await close();
  await server?.kill("SIGTERM");
});

it("runs from the bundle and the native modules alone", async () => {
  const app = tempDir("patchbay-image-");
  execFileSync(process.execPath, [path.join(ROOT, "build.mjs"), "runtime", app]);
  for (const part of ["dist", "views", "public", "package.json"]) fs.cpSync(path.join(ROOT, part), path.join(app, part), { recursive: true });
  const modules = fs
    .readdirSync(path.join(app, "node_modules"))
    .flatMap((n) => (n.startsWith("@") ? fs.readdirSync(path.join(app, "node_modules", n)).map((m) => `${n}/${m}`) : [n]));
  const allowed = ["@node-rs/argon2", "better-sqlite3", "bindings", "file-uri-to-path"];
  // And the Argon2 binary for this platform (@node-rs/argon2-linux-x64-gnu here).
  for (const name of modules) expect(allowed.includes(name) || name.startsWith("@node-rs/argon2-"), name).toBe(true);
  expect(modules).toEqual(expect.arrayContaining(allowed));
  const size = (dir: string): number =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .reduce((sum, e) => sum + (e.isDirectory() ? size(path.join(dir, e.name)) : fs.statSync(path.join(dir, e.name)).size), 0);
  expect(size(path.join(app, "node_modules"))).toBeLessThan(8 * 1024 * 1024);

  const data = tempDir();
  const proxy = await startConnectProxy();
  closers.push(() => proxy.close());
  server = await startServer(
    { PATCHBAY_DATA_DIR: data, PATCHBAY_SECRET_KEY: TEST_KEY, PATCHBAY_METRICS_TOKEN: "image-test-metrics-token-0001", HTTPS_PROXY: proxy.url },
    { bundle: path.join(app, "dist", "server.js") },
  );
  await server.ready();
  const admin = new HttpSession(server.url);
  expect((await admin.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password })).status).toBe(303);
  expect((await admin.send("/integrations")).status).toBe(200);
  expect((await admin.send("/integrations/ci-upload", {})).status).toBe(303);
  const token = /pbt_[a-z2-7]{32}/.exec(await (await admin.send("/settings/tokens", { name: "ci", scopes: "upload,read" })).text())![0];
  const report = {
    SchemaVersion: 2,
    ArtifactName: "registry.example.com/acme/api:1",
    ArtifactType: "container_image",
    Metadata: { RepoDigests: [`registry.example.com/acme/api@sha256:${"e".repeat(64)}`] },
    Results: [
      { Target: "app", Type: "npm", Vulnerabilities: [{ VulnerabilityID: "CVE-2020-8203", PkgName: "lodash", InstalledVersion: "4.17.15", Severity: "HIGH" }] },
    ],
  };
  const form = new FormData();
  form.append("file", new Blob([JSON.stringify(report)]), "trivy.json");
  const uploaded = await fetch(`${server.url}/api/v1/scans`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: form });
  expect(uploaded.status, await uploaded.clone().text()).toBe(201);
  const findings = (await (await fetch(`${server.url}/api/v1/findings`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
    items: { cve: string }[];
  };
  expect(findings.items.map((f) => f.cve)).toEqual(["CVE-2020-8203"]);
  expect((await fetch(`${server.url}/api/v1/openapi.json`)).status).toBe(200);
  const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: "Bearer image-test-metrics-token-0001" } })).text();
  expect(metrics).toContain('patchbay_findings{severity="high",status="open"} 1');
  // An outbound request goes through the proxy with undici, which the bundle keeps in a chunk of
  // its own: the proxy sees the tunnel (there is no internet here, so it goes no further).
  expect((await admin.send("/settings/exploitation/kev/refresh", {})).status).toBe(303);
  await expect.poll(() => proxy.tunnels, { timeout: 20_000, interval: 250 }).toContain("www.cisa.gov:443");
  const exported = await (await admin.send("/settings/configuration/export.yaml")).text();
  expect(exported).toContain("ci-upload");
  expect((await admin.send("/settings/configuration/schema.json")).status).toBe(200);
  const preview = await admin.send("/settings/configuration/preview", { document: exported });
  expect(preview.status).toBe(200);
  // The outbound proxy loads undici from the bundle: a connection test through a dead proxy says so.
  const tested = await admin.send("/integrations/osv/test", {});
  expect(tested.status).toBeLessThan(500);
  expect(server.output()).not.toMatch(/Cannot find (module|package)/);
}, 60_000);
