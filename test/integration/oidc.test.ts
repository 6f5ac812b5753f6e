// Single sign-on against a real OpenID provider (oidc-provider on loopback): accounts made at the
// first sign-in with the role their groups give, and refusals, each with words a person can act
// on: a member of no allowed group, no groups claim, a broken signature, another issuer, an
// expired ID token, a discovery document for another issuer, an answer meant for another browser.
// Then single sign-on set up on Settings → Sign-in, with passwords kept for a break-glass admin.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, BASE, type Browser, type TestApp, setUpAdmin, signIn, testApp, text } from "../helpers.js";
import { OIDC_CLIENT, OidcSim, throughProvider } from "../sim/oidc.js";

let sim: OidcSim;
let app: TestApp;
const db = () => app.runtime.database.db;

/** Signs in through the provider as `who`; gives the browser and Patchbay's last answer. */
async function sso(target: TestApp, who: string): Promise<{ browser: Browser; res: Response }> {
  sim.signInAs = who;
  const browser = target.client();
  const start = await browser.get("/login/oidc?next=/vulnerabilities");
  const location = start.headers.get("location") ?? "";
  if (!location.startsWith(sim.issuer)) return { browser, res: start };
  const back = new URL(await throughProvider(location, new URL(BASE).origin));
  return { browser, res: await browser.get(back.pathname + back.search) };
}

const ssoEnv = (issuer: string) => ({
  PATCHBAY_OIDC_ISSUER: issuer,
  PATCHBAY_OIDC_CLIENT_ID: OIDC_CLIENT.id,
  PATCHBAY_OIDC_CLIENT_SECRET: OIDC_CLIENT.secret,
  PATCHBAY_OIDC_NAME: "Acme SSO",
  PATCHBAY_OIDC_ADMIN_GROUP: "patchbay-admins",
  PATCHBAY_OIDC_MEMBER_GROUP: "patchbay-users",
});

beforeAll(async () => {
  sim = new OidcSim();
  await sim.start(`${BASE}/login/oidc/callback`);
  sim.accounts.set("sub-alice", { preferred_username: "alice", email: "alice@acme.example", name: "Alice", groups: ["patchbay-admins", "staff"] });
  sim.accounts.set("sub-bob", { preferred_username: "bob", email: "bob@acme.example", name: "Bob", groups: ["patchbay-users"] });
  sim.accounts.set("sub-eve", { preferred_username: "eve", email: "eve@acme.example", name: "Eve", groups: ["marketing"] });
  sim.accounts.set("sub-nog", { preferred_username: "nog", email: "nog@acme.example", name: "No Groups" });
  app = await testApp({ env: ssoEnv(sim.issuer) });
  await setUpAdmin(app);
});
afterAll(async () => {
  await app?.close();
  await sim?.close();
});

describe("single sign-on with OpenID Connect", () => {
  it("offers the provider on the sign-in page", async () => {
    const page = await (await app.client().get("/login")).text();
    expect(text(page)).toContain("Sign in with Acme SSO");
    expect(page).toContain('href="/login/oidc?next=%2Fintegrations"');
  });

  it("makes an account at the first sign-in, an administrator by group, and signs it in", async () => {
    const { browser, res } = await sso(app, "sub-alice");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/vulnerabilities");
    expect((await browser.get("/settings/users")).status).toBe(200);
    const alice = await db().selectFrom("users").selectAll().where("username", "=", "alice").executeTakeFirstOrThrow();
    expect(alice).toMatchObject({ role: "admin", external_id: `${sim.issuer}#sub-alice` });
    const { res: bobs } = await sso(app, "sub-bob");
    expect(bobs.headers.get("location")).toBe("/vulnerabilities");
    expect((await db().selectFrom("users").select("role").where("username", "=", "bob").executeTakeFirstOrThrow()).role).toBe("member");
    const log = await db().selectFrom("audit_log").select(["action", "actor", "via"]).where("actor", "=", "alice").execute();
    expect(log).toContainEqual({ action: "user.created", actor: "alice", via: "oidc" });
    expect(log).toContainEqual({ action: "auth.sign_in", actor: "alice", via: "oidc" });
  });

  it("makes one account when a person's first sign-ins finish at once (two tabs, two replicas)", async () => {
    sim.accounts.set("sub-dan", { preferred_username: "dan", email: "dan@acme.example", name: "Dan", groups: ["patchbay-users"] });
    const both = await Promise.all([sso(app, "sub-dan"), sso(app, "sub-dan")]);
    expect(both.map(({ res }) => [res.status, res.headers.get("location")])).toEqual([
      [303, "/vulnerabilities"],
      [303, "/vulnerabilities"],
    ]);
    const dans = await db().selectFrom("users").select(["username", "external_id"]).where("username", "=", "dan").execute();
    expect(dans).toEqual([{ username: "dan", external_id: `${sim.issuer}#sub-dan` }]);
    for (const { browser } of both) expect((await browser.get("/vulnerabilities")).status).toBe(200);
  });

  it("follows the groups at every sign-in", async () => {
    sim.accounts.get("sub-alice")!.groups = ["patchbay-users"];
    await sso(app, "sub-alice");
    expect((await db().selectFrom("users").select("role").where("username", "=", "alice").executeTakeFirstOrThrow()).role).toBe("member");
    sim.accounts.get("sub-alice")!.groups = ["patchbay-admins"];
    await sso(app, "sub-alice");
    expect((await db().selectFrom("users").select("role").where("username", "=", "alice").executeTakeFirstOrThrow()).role).toBe("admin");
  });

  it("refuses someone in no allowed group, and a provider that sends no groups, saying what to do", async () => {
    const eve = await sso(app, "sub-eve");
    expect(eve.res.status).toBe(403);
    expect(text(await eve.res.text())).toContain(
      'Your account is not in the group "patchbay-users" that may use Patchbay. Ask your administrator to add you to it.',
    );
    const nog = await sso(app, "sub-nog");
    expect(nog.res.status).toBe(403);
    expect(text(await nog.res.text())).toContain('The sign-in service sent no "groups" claim');
    expect(await db().selectFrom("users").select("id").where("username", "in", ["eve", "nog"]).execute()).toEqual([]);
    expect((await eve.browser.get("/integrations")).headers.get("location")).toMatch(/^\/login/);
  });

  it("refuses an ID token with a broken signature or from another issuer", async () => {
    try {
      sim.tamper = "signature";
      const forged = await sso(app, "sub-bob");
      expect(forged.res.status).toBe(403);
      expect(text(await forged.res.text())).toContain("the ID token's signature does not verify with the provider's keys");
      sim.tamper = "issuer";
      const impostor = await sso(app, "sub-bob");
      expect(impostor.res.status).toBe(403);
      expect(text(await impostor.res.text())).toContain("the ID token was issued by another issuer than the one configured");
      expect((await impostor.browser.get("/integrations")).headers.get("location")).toMatch(/^\/login/);
    } finally {
      sim.tamper = "none";
    }
  });

  it("refuses an expired ID token by Patchbay's clock", async () => {
    app.clock.advance(3 * 3600_000);
    try {
      const late = await sso(app, "sub-bob");
      expect(late.res.status).toBe(403);
      expect(text(await late.res.text())).toContain("the ID token has expired or is not valid yet");
    } finally {
      app.clock.advance(-3 * 3600_000);
    }
  });

  it("refuses an answer meant for another browser, and one used twice", async () => {
    sim.signInAs = "sub-bob";
    const victim = app.client();
    const start = await victim.get("/login/oidc");
    const back = new URL(await throughProvider(start.headers.get("location")!, new URL(BASE).origin));
    // An attacker's browser, handed the victim's answer, has no matching state cookie.
    const attacker = app.client();
    const stolen = await attacker.get(back.pathname + back.search);
    expect(stolen.status).toBe(403);
    expect(text(await stolen.text())).toContain("This sign-in was not started in this browser");
    expect((await victim.get(back.pathname + back.search)).headers.get("location")).toBe("/integrations");
    victim.cookies.set("patchbay_oidc", back.searchParams.get("state")!);
    const replay = await victim.get(back.pathname + back.search);
    expect(text(await replay.text())).toContain("already used");
  });

  it("names the problem when the issuer configured is not the discovery document's", async () => {
    const wrong = await testApp({ env: ssoEnv(sim.issuer.replace("127.0.0.1", "localhost")) });
    try {
      await setUpAdmin(wrong);
      const res = await wrong.client().get("/login/oidc");
      expect(res.status).toBe(403);
      expect(text(await res.text())).toContain("does not describe this issuer");
    } finally {
      await wrong.close();
    }
  });

  it("does not ask accounts of the provider for Patchbay's two-step sign-in", async () => {
    const admin = await signIn(app, ADMIN.username, ADMIN.password);
    await admin.post("/settings/sign-in", { part: "two-step", requireTotp: "on" });
    const { browser } = await sso(app, "sub-bob");
    expect((await browser.get("/vulnerabilities")).status).toBe(200);
    // A local account is asked.
    expect((await admin.get("/vulnerabilities")).headers.get("location")).toBe("/account/two-step");
  });
});

describe("single sign-on set up on the page", () => {
  let local: TestApp;
  afterAll(async () => {
    await local?.close();
  });

  it("saves the provider with the secret write-only, and keeps passwords for the break-glass administrator only", async () => {
    local = await testApp();
    const admin = await setUpAdmin(local);
    await admin.post("/settings/users", { username: "mia", role: "member", password: "member password 1", confirm: "member password 1" });
    const bad = await admin.post("/settings/sign-in", {
      part: "sso",
      issuer: "ftp://login.example",
      clientId: "",
      localSignIn: "break-glass",
      breakGlassUser: "mia",
    });
    expect(bad.status).toBe(422);
    const problems = text(await bad.text());
    expect(problems).toContain("The issuer must be an https:// address");
    expect(problems).toContain("Name a local administrator who keeps a password");
    const saved = await admin.post("/settings/sign-in", {
      part: "sso",
      issuer: sim.issuer,
      clientId: OIDC_CLIENT.id,
      clientSecret: OIDC_CLIENT.secret,
      name: "Acme SSO",
      adminGroup: "patchbay-admins",
      localSignIn: "break-glass",
      breakGlassUser: ADMIN.username,
    });
    expect(saved.status).toBe(200);
    const page = await (await admin.get("/settings/sign-in")).text();
    expect(page).not.toContain(OIDC_CLIENT.secret);
    expect(text(page)).toContain("(set; leave empty to keep it)");
    const stored = (await local.runtime.database.db.selectFrom("meta").select("value").where("key", "=", "sign_in_settings").executeTakeFirstOrThrow()).value;
    expect(stored).not.toContain(OIDC_CLIENT.secret);
    // Mia's password no longer works; the break-glass admin's does; Alice signs in through the provider.
    const refused = await local.client().post("/login", { username: "mia", password: "member password 1" });
    expect(text(await refused.text())).toContain("Sign in with Acme SSO: passwords are turned off here.");
    expect((await local.client().post("/login", { username: ADMIN.username, password: ADMIN.password })).status).toBe(303);
    const { res } = await sso(local, "sub-alice");
    expect(res.headers.get("location")).toBe("/vulnerabilities");
  });
});
