// Stored input rendered in a real browser: names, titles and descriptions that carry scripts
// (from people, and from scanner reports) show as text on every page — no script runs, no
// element is injected.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { HttpSession, type ServerProcess } from "../process.js";
import { BrowserSuite } from "./browser.js";

const PAYLOAD = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;
let server: ServerProcess;
let session: HttpSession;
let page: Page;
const suite = new BrowserSuite();

beforeAll(async () => {
  await suite.start();
  server = suite.server;
  session = suite.session;
  await session.send("/integrations/ci-upload", {});
  const tokens = await (await session.send("/settings/tokens", { name: PAYLOAD, scopes: "upload" })).text();
  const token = /pbt_[a-z2-7]{32}/.exec(tokens)![0];
  const report = {
    SchemaVersion: 2,
    ArtifactName: "registry.example.com/acme/x:1",
    ArtifactType: "container_image",
    Metadata: { RepoDigests: [`registry.example.com/acme/x@sha256:${"c".repeat(64)}`] },
    Results: [
      {
        Target: PAYLOAD,
        Type: "npm",
        Vulnerabilities: [
          {
            VulnerabilityID: "CVE-2024-12345",
            PkgName: PAYLOAD,
            InstalledVersion: "1.0.0",
            FixedVersion: PAYLOAD,
            Title: PAYLOAD,
            Description: PAYLOAD,
            PrimaryURL: "javascript:window.__pwned=3",
            Severity: "HIGH",
          },
        ],
      },
    ],
  };
  const res = await fetch(`${server.url}/api/v1/scans`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(report) });
  expect(res.status).toBe(201);
  await suite.openBrowser();
  page = suite.page;
});

afterAll(async () => {
  await suite.close();
});

it("shows script-bearing names, titles and links as text on every page", async () => {
  const dialogs: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  for (const path of ["/vulnerabilities", "/vulnerabilities/1", "/images", "/uploads", "/settings/tokens", "/integrations"]) {
    await page.goto(server.url + path);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), path).toBeUndefined();
    expect(await page.locator('img[src="x"]').count(), path).toBe(0);
  }
  await page.goto(server.url + "/vulnerabilities/1");
  expect(await page.locator("main").textContent()).toContain(PAYLOAD);
  // A javascript: link from a report is not made clickable.
  expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
  expect(dialogs).toEqual([]);
});
