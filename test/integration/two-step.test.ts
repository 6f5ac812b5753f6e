// Two-step sign-in: enrolling with the QR code's key, the code step after the password (each code
// once, a step of drift either way), recovery codes, too many wrong codes, turning it off, and an
// administrator requiring it of every local account or turning it off for someone who lost a phone.
import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { generateHOTP } from "@oslojs/otp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, type Browser, type TestApp, setUpAdmin, testApp, text } from "../helpers.js";

let app: TestApp;
let admin: Browser;
const db = () => app.runtime.database.db;

/** What an authenticator app shows for this key at the test clock's time (RFC 6238, 30 s, 6 digits). */
const appCode = (key: Uint8Array, offsetSteps = 0) => generateHOTP(key, BigInt(Math.floor(app.clock.now().getTime() / 30_000) + offsetSteps), 6);

/** Signs in with the password; the browser then stands at the code step (or is in, without two-step). */
async function password(username: string, secret: string): Promise<{ browser: Browser; location: string }> {
  const browser = app.client();
  const res = await browser.post("/login", { username, password: secret, next: "/vulnerabilities" });
  return { browser, location: res.headers.get("location") ?? "" };
}

/** Turns two-step sign-in on for a signed-in browser; gives the key and the recovery codes. */
async function enrol(browser: Browser): Promise<{ key: Uint8Array; codes: string[] }> {
  expect((await browser.post("/account/two-step/start", {})).status).toBe(303);
  const page = await (await browser.get("/account/two-step")).text();
  expect(page).toContain("<svg");
  const typed = /Enter this key in the app: <code class="wrap">([A-Z2-7 ]+)<\/code>/.exec(page)![1]!;
  const key = decodeBase32IgnorePadding(typed.replace(/ /g, ""));
  const done = await (await browser.post("/account/two-step/confirm", { code: appCode(key) })).text();
  const codes = [...done.matchAll(/<li><code>([a-z2-9]{5}-[a-z2-9]{5})<\/code><\/li>/g)].map((m) => m[1]!);
  return { key, codes };
}

beforeAll(async () => {
  app = await testApp();
  admin = await setUpAdmin(app);
});
afterAll(async () => {
  await app?.close();
});

describe("two-step sign-in", () => {
  let key: Uint8Array;
  let codes: string[];

  it("turns on with the first code from the QR code's key, and shows ten recovery codes once", async () => {
    expect((await admin.post("/account/two-step/start", {})).status).toBe(303);
    const wrong = await admin.post("/account/two-step/confirm", { code: "000000" });
    expect(wrong.status).toBe(422);
    expect(text(await wrong.text())).toContain("That code does not match.");
    ({ key, codes } = await enrol(admin));
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    const stored = await db().selectFrom("users").select(["totp_key", "totp_pending_key"]).where("username", "=", ADMIN.username).executeTakeFirstOrThrow();
    expect(stored.totp_pending_key).toBeNull();
    // Sealed by the vault: the key's base32 is not in the database.
    expect(stored.totp_key).not.toContain(Buffer.from(key).toString("base64"));
    expect(text(await (await admin.get("/account/two-step")).text())).toContain("Recovery codes left: 10");
  });

  it("asks for a code after the password, accepting each code once and a step of clock drift", async () => {
    const first = await password(ADMIN.username, ADMIN.password);
    expect(first.location).toBe("/login/code");
    // Not signed in yet: the password alone opens nothing.
    expect((await first.browser.get("/integrations")).headers.get("location")).toMatch(/^\/login/);
    // The code used to enrol was this step's: it does not work twice.
    const replay = await first.browser.post("/login/code", { code: appCode(key) });
    expect(replay.status).toBe(400);
    expect(text(await replay.text())).toContain("That code is not right, or was already used. 4 tries left.");
    app.clock.advance(30_000);
    // A phone whose clock runs a step ahead still works.
    const ok = await first.browser.post("/login/code", { code: appCode(key, 1) });
    expect(ok.headers.get("location")).toBe("/vulnerabilities");
    expect((await first.browser.get("/integrations")).status).toBe(200);
    const audit = await db()
      .selectFrom("audit_log")
      .select(["action", "detail"])
      .where("action", "=", "auth.sign_in")
      .orderBy("id", "desc")
      .executeTakeFirstOrThrow();
    expect(JSON.parse(audit.detail!)).toEqual({ second: "authenticator code" });
  });

  it("takes a recovery code once, and sends the browser back to the password after five wrong codes", async () => {
    const lost = await password(ADMIN.username, ADMIN.password);
    expect((await lost.browser.post("/login/code", { code: codes[0]!.toUpperCase() })).headers.get("location")).toBe("/vulnerabilities");
    const again = await password(ADMIN.username, ADMIN.password);
    expect((await again.browser.post("/login/code", { code: codes[0]! })).status).toBe(400);
    for (let i = 0; i < 3; i++) await again.browser.post("/login/code", { code: "123456" });
    const last = await again.browser.post("/login/code", { code: "654321" });
    expect(text(await last.text())).toContain("Too many wrong codes. Sign in again with your password.");
    // The challenge is gone: even the right code now leads back to the password.
    expect((await again.browser.post("/login/code", { code: appCode(key, 1) })).headers.get("location")).toBe("/login?again=1");
    expect(text(await (await admin.get("/account/two-step")).text())).toContain("Recovery codes left: 9");
  });

  it("turns off only with the password and a code", async () => {
    app.clock.advance(60_000);
    const refused = await admin.post("/account/two-step/disable", { password: ADMIN.password, code: "111111" });
    expect(refused.status).toBe(422);
    expect(text(await refused.text())).toContain("That code is not right, or was already used.");
    const off = await admin.post("/account/two-step/disable", { password: ADMIN.password, code: appCode(key) });
    expect(text(await off.text())).toContain("Two-step sign-in is off.");
    expect((await password(ADMIN.username, ADMIN.password)).location).toBe("/vulnerabilities");
  });

  it("lets an administrator require it of every local account, and turn it off for someone who lost a phone", async () => {
    await admin.post("/settings/users", { username: "mia", role: "member", password: "member password 1", confirm: "member password 1" });
    await admin.post("/settings/sign-in", { part: "two-step", requireTotp: "on" });
    const mia = (await password("mia", "member password 1")).browser;
    // Every page waits until two-step sign-in is on.
    expect((await mia.get("/vulnerabilities")).headers.get("location")).toBe("/account/two-step");
    expect(text(await (await mia.get("/account/two-step")).text())).toContain("An administrator requires two-step sign-in for every account.");
    const { key: miasKey } = await enrol(mia);
    expect((await mia.get("/vulnerabilities")).status).toBe(200);
    app.clock.advance(30_000);
    const back = await password("mia", "member password 1");
    expect(back.location).toBe("/login/code");
    expect((await back.browser.post("/login/code", { code: appCode(miasKey) })).headers.get("location")).toBe("/vulnerabilities");
    // Mia lost her phone: an administrator turns two-step sign-in off; she signs in and must enrol again.
    const id = (await db().selectFrom("users").select("id").where("username", "=", "mia").executeTakeFirstOrThrow()).id;
    admin = (await password(ADMIN.username, ADMIN.password)).browser;
    expect((await admin.get("/vulnerabilities")).headers.get("location")).toBe("/account/two-step");
    await enrol(admin);
    expect((await admin.post(`/settings/users/${id}/two-step/reset`, {})).headers.get("location")).toBe("/settings/users?reset=1");
    const after = await password("mia", "member password 1");
    expect(after.location).toBe("/vulnerabilities");
    expect((await after.browser.get("/vulnerabilities")).headers.get("location")).toBe("/account/two-step");
    const log = await db().selectFrom("audit_log").select(["action", "target", "actor"]).where("action", "like", "auth.totp%").execute();
    expect(log).toContainEqual({ action: "auth.totp_disabled", target: "mia", actor: "admin" });
  });
});
