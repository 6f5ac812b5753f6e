// Behind an authenticating proxy (oauth2-proxy, Authelia, Authentik): the proxy's header names
// the user, and Patchbay believes it only from the proxy's own address.
import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { findUserByUsername } from "../../src/auth/users.js";
import { BASE, type TestApp, setUpAdmin, testApp, text } from "../helpers.js";
import { type RunningSim, startSim } from "../sim/serve.js";

let app: TestApp;
let served: RunningSim;
afterEach(async () => {
  await served?.close();
  await app?.close();
});

/** A GET over a real connection from 127.0.0.1, as the proxy would send it (Host: Patchbay's own). */
function get(pathname: string, headers: Record<string, string>): Promise<{ status: number; location?: string; body: string }> {
  const target = new URL(served.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: target.hostname, port: target.port, path: pathname, headers: { host: new URL(BASE).host, ...headers } }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, location: res.headers.location, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function start(env: Record<string, string>): Promise<void> {
  app = await testApp({ env: { PATCHBAY_AUTH_PROXY_HEADER: "Remote-User", PATCHBAY_AUTH_PROXY_ADMIN_GROUP: "patchbay-admins", ...env } });
  await setUpAdmin(app);
  served = await startSim(app.runtime.app);
}

describe("sign-in by an authenticating proxy", () => {
  it("signs in the user the trusted proxy names, creating a member (or an admin by group) on first sight", async () => {
    await start({ PATCHBAY_TRUSTED_PROXIES: "127.0.0.1" });
    const alice = await get("/vulnerabilities", { "remote-user": "Alice" });
    expect(alice.status).toBe(200);
    expect((await findUserByUsername(app.runtime.database.db, "alice"))?.role).toBe("member");
    expect((await get("/settings/users", { "remote-user": "alice" })).status).toBe(403);
    const bob = await get("/settings/users", { "remote-user": "bob", "remote-groups": "developers, patchbay-admins" });
    expect(bob.status).toBe(200);
    expect((await findUserByUsername(app.runtime.database.db, "bob"))?.role).toBe("admin");
    const odd = await get("/vulnerabilities", { "remote-user": "Alice Smith <x>" });
    expect(odd.status).toBe(403);
    expect(text(odd.body)).toContain('The sign-in proxy named the user "Alice Smith <x>", which Patchbay cannot use as a user name');
    // Without the header, the proxy's requests are anyone's: sign in as usual.
    expect((await get("/vulnerabilities", {})).location).toMatch(/^\/login/);
  });

  it("signs in a new user's first requests sent at once (a page and its htmx calls) as one account", async () => {
    await start({ PATCHBAY_TRUSTED_PROXIES: "127.0.0.1" });
    const answers = await Promise.all(
      ["/vulnerabilities", "/integrations", "/repositories", "/account", "/vulnerabilities"].map((p) => get(p, { "remote-user": "carol" })),
    );
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    const users = await app.runtime.database.db.selectFrom("users").select("username").where("username", "=", "carol").execute();
    expect(users).toHaveLength(1);
  });

  it("ignores the header from any other address, and refuses the setting without trusted proxies", async () => {
    await start({ PATCHBAY_TRUSTED_PROXIES: "10.9.9.9" });
    const forged = await get("/vulnerabilities", { "remote-user": "mallory", "remote-groups": "patchbay-admins" });
    expect(forged.status).toBe(303);
    expect(forged.location).toMatch(/^\/login/);
    expect(await findUserByUsername(app.runtime.database.db, "mallory")).toBeUndefined();
    expect(() => loadConfig({ PATCHBAY_AUTH_PROXY_HEADER: "Remote-User" })).toThrow(ConfigError);
    expect(() => loadConfig({ PATCHBAY_AUTH_PROXY_HEADER: "Remote-User" })).toThrow("PATCHBAY_AUTH_PROXY_HEADER needs PATCHBAY_TRUSTED_PROXIES");
  });
});
