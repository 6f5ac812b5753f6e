// First-run setup, sign-in and sign-out. Sign-in attempts are reserved before the password is
// checked: per client address always, and per account for browsers without a device cookie
// from an earlier sign-in to that account (so nobody can lock the admin out from elsewhere).
import type { Context } from "hono";
import { Hono } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { getCookie } from "hono/cookie";
import { DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE_S, deviceCookieFor, isDeviceCookieFor } from "../auth/device.js";
import { MAX_PASSWORD_LENGTH, decoyHash, hashPassword, verifyPassword } from "../auth/password.js";
import { ACCOUNT_RULE, IP_RULE, clearAttempts, releaseAttempt, reserveAttempt } from "../auth/rate-limit.js";
import { SESSION_COOKIE, createSession, invalidateSession } from "../auth/sessions.js";
import { countUsers, createFirstAdmin, findUserById, findUserByUsername } from "../auth/users.js";
import { CHALLENGE_COOKIE, CHALLENGE_TTL_MS, closeChallenge, createChallenge, checkSecondFactor, peekChallenge, takeChallengeAttempt } from "../auth/totp.js";
import { loadSignInSettings } from "../auth/sign-in-settings.js";
import type { AppDeps, AppEnv } from "./context.js";
import { newPasswordErrors, readForm, usernameError } from "./forms.js";
import { render } from "./render.js";
import { audit } from "./audit.js";

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
    const errors: Record<string, string> = { ...newPasswordErrors(password, form.confirm ?? "", username) };
    const nameError = usernameError(username);
    if (nameError) errors.username = nameError;
    if (Object.keys(errors).length) return render(c, deps, "./setup", { values: { username }, errors }, 422);
    const passwordHash = await hashPassword(password);
    // Only the very first account may be made here.
    const user = await createFirstAdmin(deps.db, { username, passwordHash }, deps.now());
    if (!user) return c.redirect("/login", 303);
    onSetupDone();
    deps.logger.info("admin account created", { user: username });
    await audit(c, deps, "user.created", username, { role: "admin", how: "first-run setup" }, username);
    rememberDevice(c, deps, username);
    await startSession(c, deps, user.id);
    return c.redirect("/integrations", 303);
  });

  app.get("/login", (c) => {
    if (c.get("user")) return c.redirect("/integrations", 303);
    return renderLogin(c, deps, {
      values: {},
      next: safeNext(c.req.query("next"), deps.baseUrl),
      notice: c.req.query("expired")
        ? "Your session has expired. Sign in again to continue."
        : c.req.query("again")
          ? "The sign-in took too long or had too many wrong codes. Sign in again with your password."
          : undefined,
    });
  });

  app.post("/login", async (c) => {
    const form = await readForm(c);
    const username = (form.username ?? "").trim().toLowerCase().slice(0, 64);
    const password = (form.password ?? "").slice(0, MAX_PASSWORD_LENGTH);
    const next = safeNext(form.next, deps.baseUrl);
    const ipKey = `ip:${c.get("clientIp")}`;
    const accountKey = `account:${username}`;
    const knownDevice = isDeviceCookieFor(deps.vault, getCookie(c, DEVICE_COOKIE), username);
    const waitMs = await reserveSignIn(deps, ipKey, knownDevice ? undefined : accountKey);
    if (waitMs > 0) {
      deps.logger.warn("sign-in throttled", { user: username, ip: c.get("clientIp") });
      await audit(c, deps, "auth.sign_in_failed", username || null, { reason: "too many attempts" }, username || undefined);
      return renderLogin(c, deps, { values: { username }, next, error: tooManyMessage(c, waitMs, "sign-in attempts") }, 429);
    }
    // With single sign-on and local passwords off, only the break-glass administrator uses one
    // (said before any password is checked, so it tells nothing about which accounts exist).
    const settings = await loadSignInSettings(deps.db, deps.signIn);
    if (settings.oidc && settings.localSignIn === "break-glass" && username !== settings.breakGlassUser) {
      await audit(c, deps, "auth.sign_in_failed", username || null, { reason: "local sign-in is off" }, username || undefined);
      return renderLogin(c, deps, { values: {}, next, error: `Sign in with ${settings.oidc.name}: passwords are turned off here.` }, 400);
    }
    const user = username ? await findUserByUsername(deps.db, username) : undefined;
    const valid = user ? await verifyPassword(user.password_hash, password) : (await verifyPassword(await decoyHash(), password), false);
    if (!user || !valid) {
      deps.logger.warn("sign-in failed", { user: username, ip: c.get("clientIp") });
      await audit(c, deps, "auth.sign_in_failed", username || null, { reason: user ? "wrong password" : "no such user" }, username || undefined);
      return renderLogin(c, deps, { values: { username }, next, error: "Wrong username or password." }, 400);
    }
    await releaseAttempt(deps.db, ipKey);
    // Only an attempt the account limit counted resets it: the admin's own browser signing in
    // does not hand an attacker elsewhere five fresh guesses.
    if (!knownDevice) await clearAttempts(deps.db, accountKey);
    // Two-step sign-in: the password was right; the code comes next, on its own page.
    if (user.totp_key) {
      const challenge = await createChallenge(deps.db, user.id, next, deps.now());
      setCookie(c, CHALLENGE_COOKIE, challenge, {
        httpOnly: true,
        sameSite: "Lax",
        secure: deps.baseUrl.startsWith("https:"),
        path: "/login",
        maxAge: CHALLENGE_TTL_MS / 1000,
      });
      return c.redirect("/login/code", 303);
    }
    await finishSignIn(c, deps, user.username, user.id);
    return c.redirect(next, 303);
  });

  const codePage = (c: Context<AppEnv>, error?: string, status: 200 | 400 | 429 = 200) => render(c, deps, "./login-code", { error }, status);

  app.get("/login/code", async (c) => {
    const token = getCookie(c, CHALLENGE_COOKIE);
    if (!token || !(await peekChallenge(deps.db, token, deps.now()))) return c.redirect("/login?again=1", 303);
    return codePage(c);
  });

  app.post("/login/code", async (c) => {
    const token = getCookie(c, CHALLENGE_COOKIE);
    const form = await readForm(c);
    const challenge = token ? await takeChallengeAttempt(deps.db, token, deps.now()) : undefined;
    if (!challenge) {
      deleteCookie(c, CHALLENGE_COOKIE, { path: "/login" });
      return c.redirect("/login?again=1", 303);
    }
    // Codes are limited per address and per account (whoever holds the password cannot keep guessing).
    const ipKey = `ip:${c.get("clientIp")}`;
    const accountKey = `code:${challenge.userId}`;
    const waitMs = await reserveSignIn(deps, ipKey, accountKey);
    if (waitMs > 0) return codePage(c, tooManyMessage(c, waitMs, "sign-in codes"), 429);
    const user = await findUserById(deps.db, challenge.userId);
    const code = (form.code ?? "").trim().slice(0, 40);
    const how = user ? await checkSecondFactor(deps.db, deps.vault, user, code, deps.now()) : undefined;
    if (how === "recovery code") deps.logger.warn("recovery code used", { user: user!.username });
    if (!user || !how) {
      deps.logger.warn("sign-in code refused", { user: user?.username, ip: c.get("clientIp") });
      await audit(c, deps, "auth.sign_in_failed", user?.username ?? null, { reason: "wrong code" }, user?.username);
      if (challenge.left === 0) {
        await closeChallenge(deps.db, token!);
        deleteCookie(c, CHALLENGE_COOKIE, { path: "/login" });
        return renderLogin(
          c,
          deps,
          { values: { username: user?.username }, next: challenge.next, error: "Too many wrong codes. Sign in again with your password." },
          400,
        );
      }
      return codePage(c, `That code is not right, or was already used. ${challenge.left} ${challenge.left === 1 ? "try" : "tries"} left.`, 400);
    }
    await releaseAttempt(deps.db, ipKey);
    await clearAttempts(deps.db, accountKey);
    await closeChallenge(deps.db, token!);
    deleteCookie(c, CHALLENGE_COOKIE, { path: "/login" });
    await finishSignIn(c, deps, user.username, user.id, how);
    return c.redirect(challenge.next, 303);
  });

  app.post("/logout", async (c) => {
    const token = getCookie(c, SESSION_COOKIE);
    if (token) await invalidateSession(deps.db, token);
    clearSessionCookie(c, deps);
    if (c.get("user")) await audit(c, deps, "auth.sign_out", c.get("user")!.username);
    return c.redirect("/login", 303);
  });

  return app;
}

/** This browser has signed in to the account: its later attempts are limited per address only. */
function rememberDevice(c: Context<AppEnv>, deps: AppDeps, username: string): void {
  setCookie(c, DEVICE_COOKIE, deviceCookieFor(deps.vault, username), {
    httpOnly: true,
    sameSite: "Lax",
    secure: deps.baseUrl.startsWith("https:"),
    path: "/login",
    maxAge: DEVICE_COOKIE_MAX_AGE_S,
  });
}

/** The sign-in page, with the single sign-on button when a provider is set up. */
export async function renderLogin(
  c: Context<AppEnv>,
  deps: AppDeps,
  data: { values: Record<string, unknown>; next: string; error?: string; notice?: string },
  status: 200 | 400 | 403 | 429 = 200,
) {
  const settings = await loadSignInSettings(deps.db, deps.signIn);
  const sso = settings.oidc ? { name: settings.oidc.name, href: `/login/oidc?${new URLSearchParams({ next: data.next })}` } : undefined;
  return render(c, deps, "./login", { ...data, sso, localOff: Boolean(sso) && settings.localSignIn === "break-glass" }, status);
}

/** Starts the session (ending the one this browser had) and records the sign-in. */
async function finishSignIn(c: Context<AppEnv>, deps: AppDeps, username: string, userId: number, second?: string): Promise<void> {
  rememberDevice(c, deps, username);
  const previous = getCookie(c, SESSION_COOKIE);
  if (previous) await invalidateSession(deps.db, previous);
  await startSession(c, deps, userId);
  deps.logger.info("signed in", { user: username });
  await audit(c, deps, "auth.sign_in", username, second ? { second: second } : undefined, username);
}

export async function startSession(c: Context<AppEnv>, deps: AppDeps, userId: number): Promise<void> {
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

/** Reserves one attempt per address and, where given, per account; the wait when either is used up. */
export async function reserveSignIn(deps: Pick<AppDeps, "db" | "now">, ipKey: string, accountKey: string | undefined): Promise<number> {
  const now = deps.now();
  const ipWait = await reserveAttempt(deps.db, ipKey, IP_RULE, now);
  const accountWait = accountKey ? await reserveAttempt(deps.db, accountKey, ACCOUNT_RULE, now) : 0;
  return Math.max(ipWait, accountWait);
}

/** Sets Retry-After for a throttled request and says how long to wait, for the page. */
export function tooManyMessage(c: Context<AppEnv>, waitMs: number, what: string): string {
  c.header("Retry-After", String(Math.ceil(waitMs / 1000)));
  const minutes = Math.ceil(waitMs / 60_000);
  return `Too many failed ${what}. Wait ${minutes} minute${minutes === 1 ? "" : "s"} and try again.`;
}

/**
 * Where to go after signing in: a path resolved against the base URL that stays on its origin.
 * Control characters (a tab or a line break browsers drop or servers split on) are refused.
 */
export function safeNext(next: string | undefined, baseUrl: string): string {
  const fallback = "/integrations";
  if (!next || !next.startsWith("/") || /[\u0000-\u001f\u007f\\]/.test(next)) return fallback;
  let target: URL;
  try {
    target = new URL(next, baseUrl);
  } catch {
    return fallback;
  }
  const base = new URL(baseUrl);
  return target.origin === base.origin ? target.pathname + target.search + target.hash : fallback;
}
