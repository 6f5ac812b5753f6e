import { afterEach, describe, expect, it } from "vitest";
import { SESSION_TTL_MS } from "../../src/auth/sessions.js";
import { countUsers } from "../../src/auth/users.js";
import { ADMIN, type TestApp, TestClock, setUpAdmin, signIn, testApp, text } from "../helpers.js";

let app: TestApp;
afterEach(() => app?.close());

describe("first-run setup", () => {
  it("sends every page to setup until the admin exists, then never again", async () => {
    app = await testApp();
    const browser = app.client();
    const first = await browser.get("/integrations");
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe("/setup");
    expect(text(await (await browser.get("/setup")).text())).toContain("Create the administrator account");

    await setUpAdmin(app);
    const again = await app.client().get("/setup");
    expect(again.headers.get("location")).toBe("/login");
    const second = await app.client().post("/setup", { username: "mallory", password: "another-password", confirm: "another-password" });
    expect(second.headers.get("location")).toBe("/login");
    expect(await countUsers(app.runtime.database.db)).toBe(1);
  });

  it("stores an Argon2id hash, never the password", async () => {
    app = await testApp();
    await setUpAdmin(app);
    const row = await app.runtime.database.db.selectFrom("users").selectAll().executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^\$argon2id\$/);
    expect(row.role).toBe("admin");
  });

  it("explains bad input beside the field and creates nothing", async () => {
    app = await testApp();
    const res = await app.client().post("/setup", { username: "A B", password: "short", confirm: "short" });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain("Use 3 to 64 characters");
    expect(html).toContain("Use at least 10 characters.");
    expect(await countUsers(app.runtime.database.db)).toBe(0);
  });
});

describe("sign-in and sessions", () => {
  it("signs in, sets an HttpOnly SameSite=Lax cookie, and signs out", async () => {
    app = await testApp();
    await setUpAdmin(app);
    const browser = app.client();
    const res = await browser.post("/login", { username: ADMIN.username, password: ADMIN.password, next: "/jobs" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/jobs");
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect((await browser.get("/integrations")).status).toBe(200);
    await browser.post("/logout", {});
    expect((await browser.get("/integrations")).status).toBe(303);
  });

  it("rejects a wrong password without saying which part was wrong", async () => {
    app = await testApp();
    await setUpAdmin(app);
    for (const username of [ADMIN.username, "nobody"]) {
      const res = await app.client().post("/login", { username, password: "wrong password!" });
      expect(res.status).toBe(400);
      expect(text(await res.text())).toContain("Wrong username or password.");
    }
  });

  it("does not redirect off-site after sign-in", async () => {
    app = await testApp();
    await setUpAdmin(app);
    const res = await app.client().post("/login", { username: ADMIN.username, password: ADMIN.password, next: "//evil.example/x" });
    expect(res.headers.get("location")).toBe("/integrations");
  });

  it("throttles repeated failures per account, even with the right password", async () => {
    app = await testApp();
    await setUpAdmin(app);
    for (let i = 0; i < 5; i++) await app.client().post("/login", { username: ADMIN.username, password: "wrong password!" });
    const blocked = await app.client().post("/login", { username: ADMIN.username, password: ADMIN.password });
    expect(blocked.status).toBe(429);
    expect(text(await blocked.text())).toMatch(/Too many failed sign-in attempts. Wait 15 minutes/);
    expect(blocked.headers.get("retry-after")).toBe("900");
    app.clock.advance(15 * 60_000);
    expect((await app.client().post("/login", { username: ADMIN.username, password: ADMIN.password })).status).toBe(303);
  });

  it("counts an attempt before checking the password: sixty guesses at once meet the limit of five", async () => {
    app = await testApp();
    await setUpAdmin(app);
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => app.client().post("/login", { username: ADMIN.username, password: `guess number ${i}` })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 400)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(55);
    // Kept in the database, which several replicas share.
    expect(await app.runtime.database.db.selectFrom("auth_attempts").select(["key", "count"]).where("key", "like", "account:%").execute()).toEqual([
      { key: `account:${ADMIN.username}`, count: 60 },
    ]);
  });

  it("cannot lock the admin out: a browser that signed in before is limited per address only", async () => {
    app = await testApp();
    const admin = await setUpAdmin(app);
    expect(admin.cookies.has("patchbay_device")).toBe(true);
    for (let i = 0; i < 6; i++) await app.client().post("/login", { username: ADMIN.username, password: "attacker guess!" });
    expect((await app.client().post("/login", { username: ADMIN.username, password: ADMIN.password })).status).toBe(429);
    await admin.post("/logout", {});
    expect((await admin.post("/login", { username: ADMIN.username, password: ADMIN.password })).status).toBe(303);
    // A forged or another account's device cookie does not count.
    const forger = app.client();
    forger.cookies.set(
      "patchbay_device",
      admin.cookies.get("patchbay_device")!.replace(/.$/, (ch) => (ch === "A" ? "B" : "A")),
    );
    expect((await forger.post("/login", { username: ADMIN.username, password: ADMIN.password })).status).toBe(429);
  });

  it("signing in again ends the browser's previous session", async () => {
    app = await testApp();
    const browser = await setUpAdmin(app);
    const before = browser.cookies.get("patchbay_session")!;
    expect((await browser.post("/login", { username: ADMIN.username, password: ADMIN.password })).status).toBe(303);
    expect(browser.cookies.get("patchbay_session")).not.toBe(before);
    const stolen = app.client();
    stolen.cookies.set("patchbay_session", before);
    expect((await stolen.get("/jobs")).status).toBe(303);
  });

  it("throttles one address trying many accounts", async () => {
    app = await testApp();
    await setUpAdmin(app);
    for (let i = 0; i < 20; i++) await app.client().post("/login", { username: `user${i}`, password: "wrong password!" });
    const res = await app.client().post("/login", { username: ADMIN.username, password: ADMIN.password });
    expect(res.status).toBe(429);
  });

  it("expires a session and tells the user why", async () => {
    app = await testApp({ clock: new TestClock() });
    const browser = await setUpAdmin(app);
    app.clock.advance(SESSION_TTL_MS + 1000);
    const res = await browser.get("/jobs");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login?next=%2Fjobs&expired=1");
    const login = await browser.get(res.headers.get("location")!);
    expect(text(await login.text())).toContain("Your session has expired. Sign in again to continue.");
  });

  it("extends an active session instead of expiring it", async () => {
    app = await testApp({ clock: new TestClock() });
    const browser = await setUpAdmin(app);
    // Up to the absolute lifetime (30 days from sign-in), which a later test covers.
    for (let day = 0; day < 5; day++) {
      app.clock.advance(4 * 24 * 3600_000);
      const res = await browser.get("/jobs");
      expect(res.status).toBe(200);
      // The browser's cookie must move forward with the server-side expiry.
      const expires = /Expires=([^;]+)/.exec(res.headers.get("set-cookie") ?? "")?.[1];
      expect(Date.parse(expires!)).toBe(app.clock.time + SESSION_TTL_MS - (app.clock.time % 1000));
    }
  });

  it("ends a session 30 days after sign-in, however active", async () => {
    app = await testApp({ clock: new TestClock() });
    const browser = await setUpAdmin(app);
    for (let day = 4; day < 30; day += 4) {
      app.clock.advance(4 * 24 * 3600_000);
      expect((await browser.get("/jobs")).status).toBe(200);
    }
    app.clock.advance(3 * 24 * 3600_000);
    const res = await browser.get("/jobs");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toContain("expired=1");
  });

  it("goes after sign-in only to a path on Patchbay's own origin; tabs and line breaks are refused", async () => {
    app = await testApp();
    await setUpAdmin(app);
    for (const next of [
      "//evil.example/x",
      "/\tevil.example",
      "/\t/evil.example",
      "/\\evil.example",
      "/jobs\r\nSet-Cookie: x=1",
      "https://evil.example/",
      "/\u0000",
    ]) {
      const res = await app.client().post("/login", { username: ADMIN.username, password: ADMIN.password, next });
      expect(res.status, next).toBe(303);
      expect(res.headers.get("location"), next).toBe("/integrations");
    }
    const res = await app.client().post("/login", { username: ADMIN.username, password: ADMIN.password, next: "/vulnerabilities?severity=high#top" });
    expect(res.headers.get("location")).toBe("/vulnerabilities?severity=high#top");
  });

  it("asks htmx requests to redirect the whole page to sign-in", async () => {
    app = await testApp();
    await setUpAdmin(app);
    const res = await app.client().get("/integrations/cards", { htmx: true });
    expect(res.status).toBe(204);
    expect(res.headers.get("hx-redirect")).toMatch(/^\/login/);
  });
});

describe("CSRF origin verification", () => {
  it("refuses a state-changing request with no Origin or a foreign one, and changes nothing", async () => {
    app = await testApp();
    const browser = await setUpAdmin(app);
    for (const origin of [undefined, "https://evil.example"]) {
      browser.origin = origin;
      const res = await browser.post("/settings/users", {
        username: "intruder",
        role: "admin",
        password: "orchard-lantern-two",
        confirm: "orchard-lantern-two",
      });
      expect(res.status).toBe(403);
      expect(text(await res.text())).toContain("did not come from a Patchbay page");
    }
    expect(await countUsers(app.runtime.database.db)).toBe(1);
    browser.origin = "http://localhost:8080";
    const ok = await browser.post("/settings/users", { username: "member1", role: "member", password: "member-password", confirm: "member-password" });
    expect(ok.status).toBe(200);
    expect(await countUsers(app.runtime.database.db)).toBe(2);
  });

  it("refuses a forged logout too", async () => {
    app = await testApp();
    const browser = await setUpAdmin(app);
    browser.origin = "https://evil.example";
    expect((await browser.post("/logout", {})).status).toBe(403);
    browser.origin = "http://localhost:8080";
    expect((await browser.get("/integrations")).status).toBe(200);
  });
});

describe("oversized and missing fields", () => {
  it("answers 413 with a message for a form over 64 KB", async () => {
    app = await testApp();
    const browser = await setUpAdmin(app);
    const res = await browser.post("/settings/users", { username: "big", role: "member", password: "p".repeat(70_000), confirm: "x" });
    expect(res.status).toBe(413);
    expect(text(await res.text())).toContain("The form was larger than 64 KB");
    expect(await countUsers(app.runtime.database.db)).toBe(1);
  });

  it("answers 422 for missing fields", async () => {
    app = await testApp();
    const browser = await setUpAdmin(app);
    const res = await browser.post("/settings/users", {});
    expect(res.status).toBe(422);
    const html = text(await res.text());
    expect(html).toContain("Enter a username.");
    expect(html).toContain("Use at least 10 characters.");
  });
});

describe("accounts and roles", () => {
  it("changes a password, signs out the user's other sessions, and needs the current password", async () => {
    app = await testApp();
    const browser = await setUpAdmin(app);
    const other = await signIn(app, ADMIN.username, ADMIN.password);
    const wrong = await browser.post("/account/password", { current: "not it at all", password: "brand-new-password", confirm: "brand-new-password" });
    expect(wrong.status).toBe(422);
    expect(text(await wrong.text())).toContain("This is not your current password.");
    const ok = await browser.post("/account/password", { current: ADMIN.password, password: "brand-new-password", confirm: "brand-new-password" });
    expect(text(await ok.text())).toContain("Your password was changed.");
    expect((await browser.get("/jobs")).status).toBe(200);
    expect((await other.get("/jobs")).status).toBe(303);
    await signIn(app, ADMIN.username, "brand-new-password");
  });

  it("throttles guesses of the current password like sign-in", async () => {
    app = await testApp();
    const browser = await setUpAdmin(app);
    for (let i = 0; i < 5; i++)
      expect(
        (await browser.post("/account/password", { current: `guess ${i} of it`, password: "brand-new-password", confirm: "brand-new-password" })).status,
      ).toBe(422);
    const blocked = await browser.post("/account/password", { current: ADMIN.password, password: "brand-new-password", confirm: "brand-new-password" });
    expect(blocked.status).toBe(429);
    expect(text(await blocked.text())).toContain("Too many failed password checks");
  });

  it("refuses common and trivial passwords, without composition rules", async () => {
    app = await testApp();
    const cases: [string, string][] = [
      ["          ", "only blanks"],
      ["aaaaaaaaaaaa", "repeats"],
      ["abcabcabcabc", "repeats"],
      ["abcdefghijk", "sequence"],
      ["1234567890", "most common"],
      ["qwertyuiop", "most common"],
      ["P@ssw0rd2024!", "most common"],
      ["Welcome123!", "most common"],
      [`${ADMIN.username}-is-here`, "username"],
    ];
    for (const [password, why] of cases) {
      const res = await app.client().post("/setup", { username: ADMIN.username, password, confirm: password });
      expect(res.status, password).toBe(422);
      expect(text(await res.text()), password).toContain(why);
    }
    expect(
      (await app.client().post("/setup", { username: ADMIN.username, password: "plum tree by the river", confirm: "plum tree by the river" })).status,
    ).toBe(303);
  });

  it("lets a member view the hub but not integration settings or users", async () => {
    app = await testApp();
    const admin = await setUpAdmin(app);
    await admin.post("/settings/users", { username: "dev", role: "member", password: "member-password", confirm: "member-password" });
    const member = await signIn(app, "dev", "member-password");
    expect((await member.get("/integrations")).status).toBe(200);
    expect((await member.get("/settings/users")).status).toBe(403);
    const config = await member.get("/integrations/wiz/new?tab=configuration");
    expect(text(await config.text())).toContain("Only administrators can change integration settings.");
    const post = await member.post("/integrations/wiz", { apiEndpoint: "https://api.us1.app.wiz.io/", clientId: "a", clientSecret: "b" });
    expect(post.status).toBe(403);
    expect(await app.runtime.database.db.selectFrom("integrations").selectAll().execute()).toHaveLength(0);
  });

  it("keeps at least one admin and never removes yourself", async () => {
    app = await testApp();
    const admin = await setUpAdmin(app);
    const res = await admin.post("/settings/users/1/role", { role: "member" });
    expect(text(await res.text())).toContain("is the only administrator");
    const del = await admin.post("/settings/users/1/delete", {});
    expect(text(await del.text())).toContain("You cannot remove your own account.");
  });
});

describe("the address Patchbay answers on (DNS rebinding)", () => {
  it("with PATCHBAY_BASE_URL set, pages and setup answer only on its host; webhooks and health anywhere", async () => {
    app = await testApp({ env: { PATCHBAY_BASE_URL: "https://patchbay.acme.example" } });
    const setup = await app.runtime.app.request("http://rebind.attacker.example/setup", {
      method: "POST",
      headers: { origin: "http://rebind.attacker.example", "content-type": "application/x-www-form-urlencoded" },
      body: "username=evil&password=plum+tree+by+the+river&confirm=plum+tree+by+the+river",
    });
    expect(setup.status).toBe(421);
    expect(text(await setup.text())).toContain("Patchbay answers at https://patchbay.acme.example");
    expect(await countUsers(app.runtime.database.db)).toBe(0);
    expect((await app.runtime.app.request("https://patchbay.acme.example/setup")).status).toBe(200);
    expect((await app.runtime.app.request("http://rebind.attacker.example/healthz")).status).toBe(200);
    expect((await app.runtime.app.request("http://rebind.attacker.example/webhooks/github/1", { method: "POST" })).status).toBe(404);
  });

  it("without it, loopback names and IP addresses work and any other name is told what to set", async () => {
    app = await testApp({ env: { PATCHBAY_BASE_URL: "" } });
    for (const host of ["localhost:8080", "127.0.0.1:8080", "10.1.2.3:8080", "[::1]:8080"]) {
      expect((await app.runtime.app.request(`http://${host}/setup`)).status, host).toBe(200);
    }
    const res = await app.runtime.app.request("http://rebind.attacker.example:8080/setup");
    expect(res.status).toBe(421);
    expect(text(await res.text())).toContain("set PATCHBAY_BASE_URL to http://rebind.attacker.example:8080");
  });
});
