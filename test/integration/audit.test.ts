// The audit log: what people do is recorded with who, how and from where; administrators read
// it on Settings → Audit log with filters and pages; members cannot; entries older than the
// retention period go with the daily clean-up.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enqueue } from "../../src/jobs/queue.js";
import { MAINTENANCE_JOB } from "../../src/schedules.js";
import { ADMIN, applySla, type Browser, type TestApp, runJobs, setUpAdmin, signIn, testApp, text } from "../helpers.js";

let app: TestApp;
let admin: Browser;
const db = () => app.runtime.database.db;
/** The entries' text (the table), not the filter's choices. */
const entries = async (path: string) => text(/<tbody>([\s\S]*)<\/tbody>/.exec(await (await admin.get(path)).text())?.[1] ?? "");

beforeAll(async () => {
  app = await testApp({ env: { PATCHBAY_AUDIT_RETENTION_DAYS: "30" } });
  admin = await setUpAdmin(app);
});
afterAll(async () => {
  await app?.close();
});

describe("the audit log", () => {
  it("records sign-ins, failures, users, roles and SLA changes with who and from where", async () => {
    await admin.post("/settings/users", { username: "mia", role: "member", password: "member password 1", confirm: "member password 1" });
    expect((await app.client().post("/login", { username: "mia", password: "not her password" })).status).toBe(400);
    const mia = await signIn(app, "mia", "member password 1");
    const id = (await db().selectFrom("users").select("id").where("username", "=", "mia").executeTakeFirstOrThrow()).id;
    await admin.post(`/settings/users/${id}/role`, { role: "admin" });
    await applySla(app, admin, { critical: "3", high: "14", medium: "60", low: "", info: "" });
    await mia.post("/logout", {});

    const page = await entries("/settings/audit");
    for (const words of [
      "Added a user",
      "Sign-in failed",
      "Signed in",
      "Changed a role",
      "Changed the SLA policy",
      "Signed out",
      "from: member",
      "to: admin",
      "reason: wrong password",
    ])
      expect(page).toContain(words);
    expect(text(await (await admin.get("/settings/audit")).text())).toContain("Entries are kept for 30 days (PATCHBAY_AUDIT_RETENTION_DAYS)");
    const entry = await db().selectFrom("audit_log").selectAll().where("action", "=", "auth.sign_in_failed").executeTakeFirstOrThrow();
    expect(entry).toMatchObject({ actor: "mia", target: "mia" });
    // In-process requests have no client address (none is made up); the process test sees a real one.
    expect(entry.ip).toBeNull();
  });

  it("filters by person, action family and day, and pages a hundred at a time", async () => {
    for (let i = 0; i < 110; i++) await admin.post("/settings/tokens", { name: `ci-${i}`, scopes: "read", lifetime: "30" });
    const onlyTokens = await entries("/settings/audit?action=token");
    expect(onlyTokens).toContain("Created an API token");
    expect(onlyTokens).not.toContain("Changed a role");
    expect(onlyTokens).toContain("ci-109");
    expect(onlyTokens).not.toContain("ci-9 ");
    const html = await (await admin.get("/settings/audit?action=token")).text();
    const next = /href="\/settings\/audit(\?[^"]+)" rel="next"/.exec(html)?.[1]?.replace(/&amp;/g, "&");
    expect(next).toBeDefined();
    const older = await entries(`/settings/audit${next}`);
    expect(older).toContain("ci-0");
    expect(older).not.toContain("ci-109");
    const mias = await entries("/settings/audit?actor=mia");
    expect(mias).toContain("Signed out");
    expect(mias).not.toContain("Created an API token");
    const today = app.clock.now().toISOString().slice(0, 10);
    expect(text(await (await admin.get(`/settings/audit?from=2020-01-01&to=2020-12-31`)).text())).toContain("Nothing matches these filters.");
    expect(await entries(`/settings/audit?from=${today}&to=${today}`)).toContain("Created an API token");
    const bad = await admin.get("/settings/audit?from=yesterday");
    expect(bad.status).toBe(400);
    expect(text(await bad.text())).toContain("from and to are days, like 2026-01-31.");
  });

  it("is for administrators only", async () => {
    await admin.post("/settings/users", { username: "ben", role: "member", password: "member password 2", confirm: "member password 2" });
    const ben = await signIn(app, "ben", "member password 2");
    expect((await ben.get("/settings/audit")).status).toBe(403);
    expect(await (await ben.get("/integrations")).text()).not.toContain('href="/settings/audit"');
  });

  it("forgets entries older than the retention period in the daily clean-up", async () => {
    const before = Number(
      (
        await db()
          .selectFrom("audit_log")
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
    expect(before).toBeGreaterThan(100);
    app.clock.advance(31 * 86_400_000);
    admin = await signIn(app, ADMIN.username, ADMIN.password);
    await applySla(app, admin, { critical: "5", high: "14", medium: "60", low: "", info: "" });
    await enqueue(db(), MAINTENANCE_JOB, null, app.clock.now());
    await runJobs(app);
    const left = await db().selectFrom("audit_log").select("action").execute();
    expect(left.map((r) => r.action)).toEqual(["auth.sign_in", "sla.changed"]);
  });
});
