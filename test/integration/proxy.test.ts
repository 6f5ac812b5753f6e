// The outbound proxy and a corporate CA, against real servers on loopback: a small CONNECT
// proxy (as Squid or a corporate gateway answers), a service behind it, an SMTP server, and a
// TLS service whose certificate only the corporate CA vouches for.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Hono } from "hono";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { describeConfig, loadConfig } from "../../src/config.js";
import { HttpClient } from "../../src/http.js";
import { createLogger } from "../../src/log.js";
import { bypassesProxy, outboundFetch } from "../../src/outbound.js";
import { startConnectProxy } from "../sim/connect-proxy.js";
import { TEST_KEY, setUpAdmin, testApp, text } from "../helpers.js";
import { type SmtpSink, startSmtpSink } from "../sim/smtp.js";
import { type RunningSim, startSim } from "../sim/serve.js";

let proxy: Awaited<ReturnType<typeof startConnectProxy>>;
let service: RunningSim;
let smtp: SmtpSink;

beforeAll(async () => {
  proxy = await startConnectProxy();
  const app = new Hono();
  app.get("/rest/api/3/serverInfo", (c) => c.json({ version: "1001.0.0", deploymentType: "Cloud" }));
  service = await startSim(app);
  smtp = await startSmtpSink();
});
afterAll(async () => {
  await proxy.close();
  await service.close();
  await smtp.close();
});
beforeEach(() => {
  proxy.tunnels.length = 0;
});

const client = (fetch: typeof globalThis.fetch | undefined) =>
  new HttpClient({ service: "Jira Cloud", logger: createLogger("error", () => {}), ...(fetch ? { fetch } : {}) });

describe("outbound proxy", () => {
  it("sends every HTTP call through HTTPS_PROXY / HTTP_PROXY with CONNECT, and none for a NO_PROXY host", async () => {
    const port = new URL(service.url).port;
    const through = await client(outboundFetch({ httpProxy: proxy.url, httpsProxy: proxy.url }, false)).request({
      url: `${service.url}/rest/api/3/serverInfo`,
    });
    expect(through.json()).toMatchObject({ deploymentType: "Cloud" });
    expect(proxy.tunnels).toEqual([`127.0.0.1:${port}`]);

    proxy.tunnels.length = 0;
    const direct = await client(outboundFetch({ httpProxy: proxy.url, noProxy: "localhost,127.0.0.1" }, false)).request({
      url: `${service.url}/rest/api/3/serverInfo`,
    });
    expect(direct.status).toBe(200);
    expect(proxy.tunnels).toEqual([]);
    // Node 20's own fetch ignores the variables: without Patchbay's outbound fetch nothing would go through.
    expect(outboundFetch({}, false)).toBeUndefined();
  });

  it("reads NO_PROXY as curl does: *, hosts, domains with or without a leading dot, ports", () => {
    const u = (s: string) => new URL(s);
    expect(bypassesProxy("*", u("https://jira.example.com"))).toBe(true);
    expect(bypassesProxy(".corp.example", u("https://jira.corp.example"))).toBe(true);
    expect(bypassesProxy("corp.example", u("https://jira.corp.example/x"))).toBe(true);
    expect(bypassesProxy("corp.example", u("https://notcorp.example"))).toBe(false);
    expect(bypassesProxy("jira.corp.example:8443", u("https://jira.corp.example:8443"))).toBe(true);
    expect(bypassesProxy("jira.corp.example:8443", u("https://jira.corp.example"))).toBe(false);
    expect(bypassesProxy("10.0.0.5, gitlab.local", u("http://10.0.0.5:8080"))).toBe(true);
    expect(bypassesProxy(undefined, u("https://api.github.com"))).toBe(false);
  });

  it("sends e-mail through the proxy too (SMTP over CONNECT), from the Hub's Test", async () => {
    const app = await testApp({ env: { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: "" } });
    try {
      const admin = await setUpAdmin(app);
      const form = {
        host: "127.0.0.1",
        port: String(smtp.port),
        tls: "none",
        username: "",
        password: "",
        from: "patchbay@acme.example",
        to: "security@acme.example",
      };
      const res = text(await (await admin.post("/integrations/email/test", form, { htmx: true })).text());
      expect(res).not.toContain("could not");
      expect(smtp.messages.at(-1)?.raw).toContain("Subject: [Patchbay] Patchbay test message");
      expect(proxy.tunnels).toContain(`127.0.0.1:${smtp.port}`);
    } finally {
      await app.close();
    }
  });

  it("shows the proxy settings (credentials masked) and the CA bundle in `config`, and refuses a malformed proxy", () => {
    const config = loadConfig({
      PATCHBAY_SECRET_KEY: TEST_KEY,
      https_proxy: "http://svc:s3cret@proxy.corp.example:3128",
      NO_PROXY: ".corp.example",
      NODE_EXTRA_CA_CERTS: "/etc/ssl/corp-ca.pem",
    });
    const shown = describeConfig(config);
    expect(shown).toContain("HTTPS_PROXY=http://***@proxy.corp.example:3128");
    expect(shown).not.toContain("s3cret");
    expect(shown).toContain("NO_PROXY=.corp.example");
    expect(shown).toContain("NODE_EXTRA_CA_CERTS=/etc/ssl/corp-ca.pem (no such file: Node ignores it)");
    expect(() => loadConfig({ HTTPS_PROXY: "socks5://proxy:1080" })).toThrow(/http:\/\/ or https:\/\/ proxy/);
  });
});

describe("corporate CA", () => {
  it("trusts a service whose certificate a CA in NODE_EXTRA_CA_CERTS signed, and explains the failure without it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "patchbay-ca-"));
    const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
    run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Acme Corporate Root"]);
    run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
    fs.writeFileSync(path.join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
    run([
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.pem",
      "-days",
      "2",
      "-extfile",
      "ext.cnf",
    ]);
    const server = https.createServer(
      { key: fs.readFileSync(path.join(dir, "server.key")), cert: fs.readFileSync(path.join(dir, "server.pem")) },
      (_req, res) => res.end('{"ok":true}'),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
    // Node reads NODE_EXTRA_CA_CERTS when it starts: each attempt is its own process.
    const script = `import { HttpClient } from ${JSON.stringify(new URL("../../src/http.ts", import.meta.url).pathname)};
      import { createLogger } from ${JSON.stringify(new URL("../../src/log.ts", import.meta.url).pathname)};
      const http = new HttpClient({ service: "GitLab", logger: createLogger("error", () => {}), maxAttempts: 1 });
      http.request({ url: ${JSON.stringify(url)} }).then((r) => console.log(r.text), (e) => console.log(e.message));`;
    // Spawned without blocking: the HTTPS service answers from this process.
    const attempt = (env: Record<string, string>) =>
      new Promise<string>((resolve) => {
        const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
          env: { ...process.env, NODE_EXTRA_CA_CERTS: "", ...env },
        });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.on("exit", () => resolve(out.trim()));
      });
    try {
      expect(await attempt({ NODE_EXTRA_CA_CERTS: path.join(dir, "ca.pem") })).toBe('{"ok":true}');
      const refused = await attempt({});
      expect(refused).toMatch(/GitLab could not be reached: the TLS certificate of 127\.0\.0\.1:\d+ was not accepted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
      expect(refused).toContain("with NODE_EXTRA_CA_CERTS");
    } finally {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
