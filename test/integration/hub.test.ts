import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { listIntegrations } from "../../src/integrations/store.js";
import { enqueueJob } from "../../src/jobs/queue.js";
import { type TestApp, setUpAdmin, testApp, text, type Browser } from "../helpers.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

let wiz: WizFixture;
let app: TestApp;
let admin: Browser;

beforeAll(async () => {
  wiz = await startWiz();
});
afterAll(() => wiz.close());
beforeEach(async () => {
  wiz.sim.faults.clear();
  wiz.sim.clients.clear();
  wiz.sim.addClient(WIZ_CLIENT.id, WIZ_CLIENT.secret);
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: wiz.originMap } });
  admin = await setUpAdmin(app);
});

afterEach(() => app.close());

const wizForm = (overrides: Record<string, string> = {}) => ({
  apiEndpoint: WIZ_ENDPOINT,
  clientId: WIZ_CLIENT.id,
  clientSecret: WIZ_CLIENT.secret,
  scanSca: "on",
  scanContainerImages: "on",
  ...overrides,
});

async function connectWiz(): Promise<number> {
  const res = await admin.post("/integrations/wiz", wizForm());
  expect(res.status).toBe(303);
  return Number(/\/integrations\/wiz\/(\d+)/.exec(res.headers.get("location")!)![1]);
}

describe("Integration Hub", () => {
  it("shows every category with its cards, statuses and a search box", async () => {
    const html = await (await admin.get("/integrations")).text();
    const page = text(html);
    for (const title of ["Source Control", "Security Scanners", "Container Registries", "Package Registries", "Collaboration & Ticketing"]) {
      expect(page).toContain(title);
    }
    for (const name of ["GitHub", "GitLab", "Bitbucket", "Wiz", "Jira", "Slack", "GitHub Issues", "GitLab Issues", "Azure DevOps Boards", "ServiceNow"]) {
      expect(page).toContain(name);
    }
    expect(html).toMatch(/<input id="integration-search" type="search"/);
    expect(page).toContain("Not Connected");
  });

  it("filters cards as you type", async () => {
    const html = text(await (await admin.get("/integrations/cards?q=jira", { htmx: true })).text());
    expect(html).toContain("Jira");
    expect(html).not.toContain("Wiz");
    expect(html).not.toContain("Source Control");
    const none = text(await (await admin.get("/integrations/cards?q=zzzz", { htmx: true })).text());
    expect(none).toContain("No integration matches “zzzz”.");
  });

  it("opens the dialog with Overview and Configuration tabs", async () => {
    const dialog = await (await admin.get("/integrations/wiz/new", { htmx: true, target: "dialog-root" })).text();
    expect(dialog).toMatch(/^<dialog id="integration-dialog"/);
    expect(dialog).toMatch(/role="tab" id="tab-overview"[^>]*aria-selected="true"/);
    const overview = text(dialog);
    for (const heading of ["What you can do", "Requirements", "Documentation"]) expect(overview).toContain(heading);
    expect(overview).toContain("read:vulnerabilities");
    const config = await (await admin.get("/integrations/wiz/new?tab=configuration", { htmx: true, target: "integration-dialog-content" })).text();
    expect(config).not.toContain("<dialog");
    expect(config).toMatch(/role="tab" id="tab-configuration"[^>]*aria-selected="true"/);
    for (const label of [
      "API Endpoint URL",
      "Client ID",
      "Client Secret",
      "Scan SCA Vulnerabilities",
      "Scan Container Image Vulnerabilities",
      "Test Connection",
      "Connect",
      "Cancel",
    ]) {
      expect(text(config)).toContain(label);
    }
    expect(config).toMatch(/name="scanSca" value="on" checked/);
    expect(config).toMatch(/name="scanContainerImages" value="on" checked/);
    const page = await (await admin.get("/integrations/wiz/new")).text();
    expect(page).toContain("<!doctype html>");
    expect(page).toMatch(/<h1 class="page-context"><a href="\/integrations">Integration Hub<\/a>/);
  });

  it("tests a connection against Wiz without saving anything", async () => {
    const res = await admin.post("/integrations/wiz/test", wizForm(), { htmx: true });
    const body = text(await res.text());
    expect(body).toContain("Connected to Wiz: the credentials were accepted and the API endpoint answered.");
    expect(body).toContain("Data center: us1");
    expect(await listIntegrations(app.runtime.database.db)).toHaveLength(0);
    const token = wiz.sim.faults.requests.find((r) => r.path === "/oauth/token");
    expect(token?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(wiz.sim.faults.requests.find((r) => r.path === "/graphql")?.headers.authorization).toMatch(/^Bearer /);
  });

  it("turns a rejected secret into the seed's authentication troubleshooting", async () => {
    const body = text(await (await admin.post("/integrations/wiz/test", wizForm({ clientSecret: "wrong-secret" }), { htmx: true })).text());
    expect(body).toContain("Connection Failed — Authentication Error");
    expect(body).toContain("Wiz did not accept the Client ID and Client Secret.");
    expect(body).toContain("the Client Secret is only shown once");
    expect(body).not.toContain("wrong-secret");
  });

  it("turns a missing scope into the seed's API endpoint troubleshooting", async () => {
    wiz.sim.clients.get(WIZ_CLIENT.id)!.scopes = [];
    const body = text(await (await admin.post("/integrations/wiz/test", wizForm(), { htmx: true })).text());
    expect(body).toContain("Connection Failed — API Endpoint Error");
    expect(body).toContain("Client token scopes does not permit this action");
    expect(body).toContain("Read vulnerabilities API scope");
  });

  it("reports an unreachable region (no route to the host) with the endpoint advice", async () => {
    const body = text(await (await admin.post("/integrations/wiz/test", wizForm({ apiEndpoint: "https://api.zz9.app.wiz.io/" }), { htmx: true })).text());
    expect(body).toContain("Connection Failed — API Endpoint Error");
    expect(body).toContain("Wiz could not be reached");
    expect(body).toContain("Verify the region in the URL is correct for your Wiz tenant.");
  });

  it("reports a Wiz outage after retrying it", async () => {
    wiz.sim.faults.add({ path: /graphql/, status: 503 });
    const body = text(await (await admin.post("/integrations/wiz/test", wizForm(), { htmx: true })).text());
    expect(body).toContain("Wiz had a server error (HTTP 503)");
    expect(wiz.sim.faults.requests.filter((r) => r.path === "/graphql")).toHaveLength(4);
  });

  it("validates every field beside it on Connect, stores nothing, and keeps what was typed", async () => {
    const res = await admin.post(
      "/integrations/wiz",
      { apiEndpoint: "https://wiz.example.com", clientId: "", clientSecret: "" },
      { htmx: true, target: "integration-dialog-content" },
    );
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain('value="https://wiz.example.com"');
    expect(html).toMatch(/id="field-apiEndpoint-error">Enter the API Endpoint URL shown in Wiz/);
    expect(html).toMatch(/id="field-clientId-error">Enter the Client ID\./);
    expect(html).toMatch(/id="field-clientSecret-error">Enter the Client Secret\./);
    expect(await listIntegrations(app.runtime.database.db)).toHaveLength(0);
  });

  it("does not store an integration whose connection test fails", async () => {
    const res = await admin.post("/integrations/wiz", wizForm({ clientSecret: "nope-nope" }), { htmx: true, target: "integration-dialog-content" });
    expect(res.status).toBe(422);
    expect(text(await res.text())).toContain("Connection Failed — Authentication Error");
    expect(await listIntegrations(app.runtime.database.db)).toHaveLength(0);
  });

  it("connects: encrypts the secret at rest, never renders it, and shows the card as Connected", async () => {
    const res = await admin.post("/integrations/wiz", wizForm({ scanContainerImages: "" }), { htmx: true, target: "integration-dialog-content" });
    expect(res.status).toBe(200);
    expect(res.headers.get("hx-trigger")).toBe("integrations-changed");
    const html = await res.text();
    expect(text(html)).toContain("Connected. Wiz us1 is ready.");
    const [row] = await listIntegrations(app.runtime.database.db);
    expect(row!.secrets).toMatch(/^v1:/);
    expect(row!.secrets).not.toContain(WIZ_CLIENT.secret);
    expect(row!.settings).not.toContain(WIZ_CLIENT.secret);
    expect(JSON.parse(row!.settings)).toMatchObject({ apiEndpoint: WIZ_ENDPOINT, scanSca: true, scanContainerImages: false });

    const hub = await (await admin.get("/integrations")).text();
    const dialog = await (await admin.get(`/integrations/wiz/${row!.id}?tab=configuration`)).text();
    for (const page of [html, hub, dialog]) expect(page).not.toContain(WIZ_CLIENT.secret);
    const card = text(hub.slice(hub.lastIndexOf("<article", hub.indexOf('data-kind="wiz"'))));
    expect(card).toMatch(/^Wiz Connected/);
    expect(card).toContain("API Endpoint URL https://api.us1.app.wiz.io/");
    expect(card).toContain("Scan Container Image Vulnerabilities Off");
    expect(card).toContain("Last Sync Never");
    expect(dialog).toContain("Stored — leave empty to keep");
  });

  it("lets rotated credentials be entered on Configure, keeps the endpoint fixed, and keeps a blank secret", async () => {
    const id = await connectWiz();
    const dialog = await (await admin.get(`/integrations/wiz/${id}?tab=configuration`)).text();
    expect(dialog).toMatch(/name="apiEndpoint"[\s\S]*?readonly/);
    wiz.sim.addClient("rotated-id", "rotated-secret-0002");
    const res = await admin.post(`/integrations/wiz/${id}`, {
      apiEndpoint: "https://api.eu1.app.wiz.io/",
      clientId: "rotated-id",
      clientSecret: "rotated-secret-0002",
      scanSca: "on",
    });
    expect(res.status).toBe(303);
    const keep = await admin.post(`/integrations/wiz/${id}`, { clientId: "rotated-id", clientSecret: "", scanSca: "on" });
    expect(keep.status).toBe(303);
    const [row] = await listIntegrations(app.runtime.database.db);
    expect(JSON.parse(row!.settings)).toMatchObject({ apiEndpoint: WIZ_ENDPOINT, clientId: "rotated-id" });
    expect(app.runtime.vault.openSecrets(row!.secrets)).toEqual({ clientSecret: "rotated-secret-0002" });
  });

  it("disconnects after confirmation and deletes the stored credentials", async () => {
    const id = await connectWiz();
    const confirm = text(await (await admin.get(`/integrations/wiz/${id}/disconnect`, { htmx: true, target: "integration-dialog-content" })).text());
    expect(confirm).toContain("Disconnect Wiz us1? Patchbay stops using it and deletes its stored credentials.");
    expect(await listIntegrations(app.runtime.database.db)).toHaveLength(1);
    const res = await admin.post(`/integrations/wiz/${id}/disconnect`, {}, { htmx: true, target: "integration-dialog-content" });
    expect(res.headers.get("hx-trigger")).toBe("integrations-changed");
    expect(text(await res.text())).toContain("Wiz us1 was disconnected and its stored credentials were deleted.");
    expect(await listIntegrations(app.runtime.database.db)).toHaveLength(0);
    expect((await admin.get(`/integrations/wiz/${id}`)).status).toBe(404);
  });

  it("flips the card to Error when a background check finds the credentials revoked, and back when fixed", async () => {
    const id = await connectWiz();
    wiz.sim.clients.get(WIZ_CLIENT.id)!.disabled = true;
    await enqueueJob(app.runtime.database.db, "integration.check", { integrationId: id }, app.clock.now());
    expect(await app.runtime.worker.runOnce()).toBe(true);
    const hub = text(await (await admin.get("/integrations")).text());
    expect(hub).toMatch(/Wiz Error/);
    expect(hub).toContain("Wiz did not accept the Client ID and Client Secret.");
    await enqueueJob(app.runtime.database.db, "integration.check", { integrationId: id }, app.clock.now());
    await app.runtime.worker.runOnce();
    const events = await app.runtime.database.db.selectFrom("domain_events").select("type").where("type", "=", "integration.failed").execute();
    expect(events).toHaveLength(1);
    wiz.sim.clients.get(WIZ_CLIENT.id)!.disabled = false;
    await enqueueJob(app.runtime.database.db, "integration.check", { integrationId: id }, app.clock.now());
    await app.runtime.worker.runOnce();
    expect(text(await (await admin.get("/integrations")).text())).toMatch(/Wiz Connected/);
  });

  it("escapes what users and services type", async () => {
    const res = await admin.post("/integrations/wiz", wizForm({ apiEndpoint: '"><script>alert(1)</script>' }), {
      htmx: true,
      target: "integration-dialog-content",
    });
    const html = await res.text();
    expect(html).not.toContain("<script>alert(1)</script>");
    expect(html).toContain("&quot;&gt;&lt;script&gt;");
  });
});

describe("connection names", () => {
  it("keeps names unique, renames a connection everywhere, and still finds it by its former name in configuration documents", async () => {
    const first = await connectWiz();
    const second = await connectWiz();
    const names = async () => (await listIntegrations(app.runtime.database.db)).map((i) => i.name);
    expect(await names()).toEqual(["Wiz us1", "Wiz us1 (2)"]);

    // A name another connection holds (in any case) is refused beside the field, and changes nothing.
    const taken = await admin.post(`/integrations/wiz/${second}/rename`, { name: "WIZ US1" }, { htmx: true });
    expect(taken.status).toBe(422);
    expect(text(await taken.text())).toContain('Another connection is already named "Wiz us1": choose another name.');
    expect((await admin.post(`/integrations/wiz/${second}/rename`, { name: "  " }, { htmx: true })).status).toBe(422);
    expect(await names()).toEqual(["Wiz us1", "Wiz us1 (2)"]);

    const renamed = await admin.post(`/integrations/wiz/${second}/rename`, { name: "Wiz EU tenant" }, { htmx: true });
    expect(renamed.status).toBe(200);
    expect(text(await renamed.text())).toContain("Renamed to Wiz EU tenant.");
    expect(await names()).toEqual(["Wiz us1", "Wiz EU tenant"]);
    // The card and the disconnect prompt tell the two apart.
    const hub = text(await (await admin.get("/integrations")).text());
    expect(hub).toContain("Wiz us1 — Connected");
    expect(hub).toContain("Wiz EU tenant — Connected");
    expect(text(await (await admin.get(`/integrations/wiz/${second}/disconnect`)).text())).toContain("Disconnect Wiz EU tenant?");
    expect(text(await (await admin.get(`/integrations/wiz/${first}/disconnect`)).text())).toContain("Disconnect Wiz us1?");

    // A configuration document written before the rename names it "Wiz us1 (2)": it is the same connection.
    const exported = await (await admin.get("/settings/configuration/export.yaml")).text();
    expect(exported).toContain("name: Wiz EU tenant");
    const old = exported.replace("name: Wiz EU tenant", "name: Wiz us1 (2)");
    const preview = text(await (await admin.postMultipart("/settings/configuration/preview", { document: old })).text());
    expect(preview).not.toContain("Add Integration Wiz us1 (2)");
    expect(preview).toContain("Integration Wiz us1 (2) (Wiz)");
    expect((await admin.postMultipart("/settings/configuration/apply", { document: old })).status).toBe(200);
    expect(await names()).toEqual(["Wiz us1", "Wiz EU tenant"]);
  });
});

describe("jobs page and health", () => {
  it("lists jobs with status, attempts and errors, and reports queue depth on /healthz", async () => {
    await enqueueJob(app.runtime.database.db, "integration.check", { integrationId: 999 }, app.clock.now());
    await enqueueJob(app.runtime.database.db, "mystery", {}, app.clock.now());
    const health = await app.client().get("/healthz");
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok", database: "ok", queue: { queued: 2, running: 0, failed: 0 } });
    // Readiness: ready when migrated; a migration not applied yet (an upgrade half-way) is not ready, and says which.
    const ready = await app.client().get("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
    const last = await app.runtime.database.db
      .selectFrom("kysely_migration" as never)
      .select("name" as never)
      .orderBy("name" as never, "desc")
      .executeTakeFirstOrThrow();
    await sql`delete from kysely_migration where name = ${(last as { name: string }).name}`.execute(app.runtime.database.db);
    const unready = await app.client().get("/readyz");
    expect(unready.status).toBe(503);
    expect(await unready.json()).toEqual({ status: "not ready", problems: [`1 migration(s) not applied yet (${(last as { name: string }).name})`] });
    await app.runtime.worker.runOnce();
    await app.runtime.worker.runOnce();
    const page = text(await (await admin.get("/jobs")).text());
    // Job types by their human names (the internal name stays in the title).
    expect(page).toContain("Connection check succeeded");
    expect(page).not.toContain("integration.check succeeded");
    expect(page).toMatch(/mystery failed 1 \/ 5/);
    expect(page).toContain('No handler is registered for jobs of type "mystery"');
    // A finished job's last progress report is no half-filled bar.
    await app.runtime.database.db
      .updateTable("jobs")
      .set({ progress: JSON.stringify({ done: 3, total: 10, message: "reading" }) })
      .execute();
    const finished = await (await admin.get("/jobs")).text();
    expect(finished).not.toContain("<progress");
    expect(text(finished)).toContain("done: 10 of 10");
    expect(text(finished)).toContain("stopped at 3 of 10");
    const failedOnly = text(await (await admin.get("/jobs?status=failed")).text());
    expect(failedOnly).not.toContain("Connection check");
  });
});

describe("secrets in messages", () => {
  it("scrubs a typed-in secret that a service echoes back in its error", async () => {
    wiz.sim.faults.add({
      path: /oauth/,
      status: 400,
      body: JSON.stringify({ error: "invalid_client", error_description: "unknown secret typed-secret-9876" }),
    });
    const body = await (await admin.post("/integrations/wiz/test", wizForm({ clientSecret: "typed-secret-9876" }), { htmx: true })).text();
    expect(text(body)).toContain("Connection Failed — Authentication Error");
    expect(body).not.toContain("typed-secret-9876");
  });
});
