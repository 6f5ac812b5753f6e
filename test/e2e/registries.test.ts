// End to end in Chromium: connect a container registry and the dependency monitor from the
// Integration Hub's dialogs, then see the registry's image with the scanner's finding on it
// (linked to its source repository by label), and the dependency monitor's finding for a
// repository's lockfile, on the Images, Vulnerabilities and Packages pages.
import fs from "node:fs";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { HttpSession, type ServerProcess } from "../process.js";
import { GitHubSim } from "../sim/github.js";
import { OciRegistrySim } from "../sim/oci.js";
import { OsvSim, realAdvisories } from "../sim/osv.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { imageAsset, wizFinding } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";
import { BrowserSuite, type Dialog, connectInHub } from "./browser.js";

let wiz: WizFixture;
let oci: OciRegistrySim;
let github: GitHubSim;
let osv: OsvSim;
const sims: RunningSim[] = [];
let server: ServerProcess;
let session: HttpSession;
let page: Page;
const suite = new BrowserSuite();

beforeAll(async () => {
  oci = new OciRegistrySim();
  oci.users.set("ci-reader", { password: "registry-e2e-token", catalog: true, repositories: "*" });
  const digest = oci.addImage("acme/shop", "2.0", { "org.opencontainers.image.source": "https://github.com/acme/shop" });
  github = new GitHubSim();
  github.addToken("github_pat_e2e_registries");
  github.repos.push({ id: 91, full_name: "acme/shop", private: true, visibility: "private", archived: false, default_branch: "main" });
  github.files.set("acme/shop", {
    "package-lock.json": JSON.stringify({
      name: "shop",
      lockfileVersion: 3,
      packages: { "": { name: "shop" }, "node_modules/lodash": { version: "4.17.20" } },
    }),
  });
  osv = new OsvSim();
  for (const advisory of realAdvisories()) osv.add(advisory);
  wiz = await startWiz();
  wiz.sim.findings.length = 0;
  wiz.sim.findings.push(
    wizFinding(
      1,
      { ...imageAsset(1), imageId: digest, providerUniqueId: digest, name: "registry.example.com/acme/shop:2.0" },
      { name: "CVE-2023-4911", detailedName: "glibc", version: "2.36-9", fixedVersion: "2.36-9+deb12u3", severity: "HIGH" },
    ),
  );
  for (const sim of [oci, github, osv]) sims.push(await startSim(sim.app()));
  const [o, gh, os] = sims;
  await suite.start({
    PATCHBAY_ORIGIN_MAP: `${wiz.originMap},https://registry.example.com=${o!.url},https://api.github.com=${gh!.url},https://api.osv.dev=${os!.url}`,
  });
  server = suite.server;
  session = suite.session;
  await session.send("/integrations/github", { githubUrl: "https://github.com", token: "github_pat_e2e_registries" });
  await suite.openBrowser();
  page = suite.page;
});

afterAll(async () => {
  await suite.close();
  await wiz?.close();
  for (const s of sims) await s.close();
});

const connect = (card: string, fill: (dialog: Dialog) => Promise<void>) => connectInHub(page, server.url, card, fill);

it("shows a registry's image with its scanner finding, and the dependency monitor's findings, after connecting both in the browser", async () => {
  await connect("OCI registry", async (dialog) => {
    await dialog.getByLabel("Registry URL").fill("https://registry.example.com");
    await dialog.getByLabel("User name").fill("ci-reader");
    await dialog.getByLabel("Password or token").fill("registry-e2e-token");
  });
  await connect("Patchbay dependency monitor", async () => {});

  // The image inventory comes first; then a Wiz scan puts its container finding on the image.
  await expect
    .poll(
      async () => {
        await page.goto(server.url + "/images");
        return page.getByRole("cell", { name: "registry.example.com/acme/shop:2.0", exact: true }).count();
      },
      { timeout: 20_000 },
    )
    .toBe(1);
  await session.send("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanContainerImages: "on" });
  await expect
    .poll(
      async () => {
        await page.goto(server.url + "/images");
        return page.getByRole("row", { name: /acme\/shop:2\.0/ }).textContent();
      },
      { timeout: 30_000 },
    )
    .toContain("1 high");
  const row = page.getByRole("row", { name: /acme\/shop:2\.0/ });
  expect(await row.getByRole("link", { name: "acme/shop", exact: true }).count()).toBe(1);
  await row.getByRole("link", { name: "registry.example.com/acme/shop:2.0" }).click();
  await expect.poll(() => page.getByRole("table").first().textContent()).toContain("CVE-2023-4911");

  // The dependency monitor read the repository's lockfile and asked OSV.
  await expect
    .poll(
      async () => {
        await page.goto(server.url + "/vulnerabilities?q=lodash");
        return page.locator("main").textContent();
      },
      { timeout: 30_000 },
    )
    .toContain("CVE-2021-23337");
  expect(await page.locator("main").textContent()).toContain("acme/shop");
  await page.getByRole("navigation", { name: "Main" }).getByText("Assets").click();
  await page.getByRole("link", { name: "Packages" }).click();
  await page.getByLabel("Package name").fill("lodash");
  await page.getByRole("button", { name: "Find" }).click();
  await expect.poll(() => page.getByRole("row", { name: /lodash/ }).textContent()).toContain("4.17.20");
});

it("uploads a scan report on the Uploads page and shows what it did", async () => {
  await connect("CI uploads", async () => {});
  await page.goto(server.url + "/uploads");
  await page.getByLabel("Asset", { exact: true }).fill("https://github.com/acme/shop");
  await page.getByLabel("Report file (up to 200 MB)").setInputFiles({
    name: "osv-scanner.json",
    mimeType: "application/json",
    buffer: fs.readFileSync(new URL("../fixtures/reports/osv-scanner.json", import.meta.url)),
  });
  await page.getByRole("button", { name: "Upload" }).click();
  await expect.poll(() => page.getByRole("status").first().textContent()).toContain("OSV-Scanner report imported for acme/shop: 2 new");
  await page.getByRole("link", { name: "See the findings" }).click();
  await expect.poll(() => page.locator("main").textContent()).toContain("CVE-2020-28493");
  await page.goto(server.url + "/uploads");
  expect(await page.getByRole("row", { name: /user admin/ }).textContent()).toContain("2 new");
});
