// First-run setup, sign-in and sign-out.
import type { Context } from "hono";
import { Hono } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { getCookie } from "hono/cookie";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, decoyHash, hashPassword, verifyPassword } from "../auth/password.js";
import { SESSION_COOKIE, createSession, invalidateSession } from "../auth/sessions.js";
import { countUsers, createUser, findUserByUsername } from "../auth/users.js";
import type { AppDeps, AppEnv } from "./context.js";
import { newPasswordErrors, readForm, usernameError } from "./forms.js";
import { render } from "./render.js";

export function authRoutes(deps: AppDeps, onSetupDone: () => void): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/setup", async (c) => {
    if ((await countUsers(deps.db)) > 0) return c.redirect("/login", 303);
    return render(c, deps, "./setup", { values: {}, errors: {} });
  });

  app.post("/setup", async (c) => {
    const form = await readForm(c);
    const username = (form.username ?? "").trim().toLowerCase();
    const password = form.password ?? "";
    const errors: Record<string, string> = { ...newPasswordErrors(password, form.confirm ?? "", MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH) };
    const nameError = usernameError(username);
    if (nameError) errors.username = nameError;
    if (Object.keys(errors).length) return render(c, deps, "./setup", { values: { username }, errors }, 422);
    const passwordHash = await hashPassword(password);
    // Only the very first account may be made here: check and insert in one transaction.
    const user = await deps.db.transaction().execute(async (trx) => {
      if ((await countUsers(trx)) > 0) return undefined;
      return createUser(trx, { username, passwordHash, role: "admin" }, deps.now());
    });
    if (!user) return c.redirect("/login", 303);
    onSetupDone();
    deps.logger.info("admin account created", { user: username });
    await startSession(c, deps, user.id);
    return c.redirect("/integrations", 303);
  });

  app.get("/login", (c) => {
    if (c.get("user")) return c.redirect("/integrations", 303);
    return render(c, deps, "./login", {
      values: {},
      next: safeNext(c.req.query("next")),
      notice: c.req.query("expired") ? "Your session has expired. Sign in again to continue." : undefined,
    });
  });

  app.post("/login", async (c) => {
    const form = await readForm(c);
    const username = (form.username ?? "").trim().toLowerCase().slice(0, 64);
    const password = (form.password ?? "").slice(0, MAX_PASSWORD_LENGTH);
    const next = safeNext(form.next);
    const ipKey = `ip:${c.get("clientIp")}`;
    const accountKey = `account:${username}`;
    const waitMs = Math.max(deps.limiters.ip.blockedFor(ipKey), deps.limiters.account.blockedFor(accountKey));
    if (waitMs > 0) {
      const minutes = Math.ceil(waitMs / 60_000);
      deps.logger.warn("sign-in throttled", { user: username, ip: c.get("clientIp") });
      c.header("Retry-After", String(Math.ceil(waitMs / 1000)));
      return render(c, deps, "./login", { values: { username }, next, error: `Too many failed sign-in attempts. Wait ${minutes} minute${minutes === 1 ? "" : "s"} and try again.` }, 429);
    }
    const user = username ? await findUserByUsername(deps.db, username) : undefined;
    const valid = user ? await verifyPassword(user.password_hash, password) : (await verifyPassword(await decoyHash(), password), false);
    if (!user || !valid) {
      deps.limiters.ip.recordFailure(ipKey);
      deps.limiters.account.recordFailure(accountKey);
      deps.logger.warn("sign-in failed", { user: username, ip: c.get("clientIp") });
      return render(c, deps, "./login", { values: { username }, next, error: "Wrong username or password." }, 400);
    }
    deps.limiters.account.reset(accountKey);
    await startSession(c, deps, user.id);
    deps.logger.info("signed in", { user: username });
    return c.redirect(next, 303);
  });

  app.post("/logout", async (c) => {
    const token = getCookie(c, SESSION_COOKIE);
    if (token) await invalidateSession(deps.db, token);
    clearSessionCookie(c, deps);
    return c.redirect("/login", 303);
  });

  return app;
}

async function startSession(c: Context<AppEnv>, deps: AppDeps, userId: number): Promise<void> {
  const { token, expiresAt } = await createSession(deps.db, userId, deps.now());
  setSessionCookie(c, deps, token, expiresAt);
}

export function setSessionCookie(c: Context<AppEnv>, deps: AppDeps, token: string, expiresAt: Date): void {
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: "Lax",
    secure: deps.baseUrl.startsWith("https:"),
    path: "/",
    expires: expiresAt,
  });
}

export function clearSessionCookie(c: Context<AppEnv>, deps: AppDeps): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/", secure: deps.baseUrl.startsWith("https:") });
}

/** Only same-site paths: never an absolute or protocol-relative URL (no open redirect). */
function safeNext(next: string | undefined): string {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/integrations";
}
