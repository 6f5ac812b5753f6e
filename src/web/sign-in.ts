// Single sign-on pages: /login/oidc sends the browser to the provider (state bound to it by a
// cookie), /login/oidc/callback finishes there; and Settings → Sign-in, where an administrator
// sets up the provider, chooses whether local passwords still work, and requires two-step sign-in.
import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { OIDC_STATE_COOKIE, OidcRefused, finishSignIn, forgetDiscovery, redirectUri, startSignIn } from "../auth/oidc.js";
import { OIDC_DEFAULTS, type OidcSettings, type SignInSettings, loadSignInSettings, normalScopes, saveSignInSettings } from "../auth/sign-in-settings.js";
import { findUserByUsername } from "../auth/users.js";
import { issuerProblem } from "../config.js";
import { audit } from "./audit.js";
import { renderLogin, safeNext, startSession } from "./auth.js";
import type { AppDeps, AppEnv } from "./context.js";
import { readForm } from "./forms.js";
import { render } from "./render.js";
import { requireAdmin } from "./users.js";

/** The settings with the client secret opened (from the vault, or as the environment gave it). */
export async function signInSettings(deps: AppDeps): Promise<SignInSettings> {
  const settings = await loadSignInSettings(deps.db, deps.signIn);
  if (settings.oidc && !settings.fromEnvironment)
    return { ...settings, oidc: { ...settings.oidc, clientSecret: deps.vault.decrypt(settings.oidc.clientSecret) } };
  return settings;
}

const oidcContext = (deps: AppDeps) => ({ db: deps.db, vault: deps.vault, now: deps.now, baseUrl: deps.baseUrl, fetch: deps.env.http?.fetch });

export function signInRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const secure = deps.baseUrl.startsWith("https:");

  const refused = (c: Context<AppEnv>, message: string) => renderLogin(c, deps, { values: {}, next: "/integrations", error: message }, 403);

  app.get("/login/oidc", async (c) => {
    const { oidc } = await signInSettings(deps);
    if (!oidc) return c.redirect("/login", 303);
    try {
      const { url, state } = await startSignIn(oidc, oidcContext(deps), safeNext(c.req.query("next"), deps.baseUrl));
      // Lax: sent back on the provider's top-level redirect to the callback, never on another site's request.
      setCookie(c, OIDC_STATE_COOKIE, state, { httpOnly: true, sameSite: "Lax", secure, path: "/login/oidc", maxAge: 600 });
      return c.redirect(url, 303);
    } catch (err) {
      if (!(err instanceof OidcRefused)) throw err;
      deps.logger.warn("single sign-on could not start", { error: err.message });
      return refused(c, err.message);
    }
  });

  app.get("/login/oidc/callback", async (c) => {
    const { oidc } = await signInSettings(deps);
    if (!oidc) return c.redirect("/login", 303);
    const cookieState = getCookie(c, OIDC_STATE_COOKIE);
    deleteCookie(c, OIDC_STATE_COOKIE, { path: "/login/oidc", secure });
    try {
      const done = await finishSignIn(oidc, oidcContext(deps), new URL(c.req.url), cookieState);
      c.set("via", "oidc");
      if (done.created) await audit(c, deps, "user.created", done.user.username, { role: done.user.role, how: "first single sign-on" }, done.user.username);
      if (done.roleChanged) await audit(c, deps, "user.role_changed", done.user.username, { to: done.user.role, how: "groups claim" }, done.user.username);
      await startSession(c, deps, done.user.id);
      deps.logger.info("signed in", { user: done.user.username, via: "oidc" });
      await audit(c, deps, "auth.sign_in", done.user.username, undefined, done.user.username);
      return c.redirect(done.next, 303);
    } catch (err) {
      if (!(err instanceof OidcRefused)) throw err;
      deps.logger.warn("single sign-on refused", { error: err.message });
      await audit(c, deps, "auth.sign_in_failed", null, { reason: err.message.slice(0, 300), how: "single sign-on" });
      return refused(c, err.message);
    }
  });

  // --- Settings → Sign-in -----------------------------------------------------------------
  app.use("/settings/sign-in", requireAdmin(deps));
  const page = async (c: Context<AppEnv>, extra: Record<string, unknown> = {}, status: 200 | 422 = 200) => {
    const settings = await loadSignInSettings(deps.db, deps.signIn);
    const oidc = settings.oidc;
    return render(
      c,
      deps,
      "./sign-in-settings",
      {
        settings,
        values: {
          issuer: oidc?.issuer ?? "",
          clientId: oidc?.clientId ?? "",
          name: oidc?.name ?? "",
          scopes: oidc?.scopes ?? OIDC_DEFAULTS.scopes,
          usernameClaim: oidc?.usernameClaim ?? OIDC_DEFAULTS.usernameClaim,
          groupsClaim: oidc?.groupsClaim ?? OIDC_DEFAULTS.groupsClaim,
          adminGroup: oidc?.adminGroup ?? "",
          memberGroup: oidc?.memberGroup ?? "",
          localSignIn: settings.localSignIn,
          breakGlassUser: settings.breakGlassUser,
        },
        secretSet: Boolean(oidc?.clientSecret),
        redirectUri: redirectUri(deps.baseUrl),
        errors: {},
        ...extra,
      },
      status,
    );
  };

  app.get("/settings/sign-in", (c) => page(c));

  app.post("/settings/sign-in", async (c) => {
    const form = await readForm(c);
    const current = await loadSignInSettings(deps.db, deps.signIn);
    const requireTotp = form.requireTotp === "on";
    if (current.fromEnvironment || form.part === "two-step") {
      await saveSignInSettings(deps.db, {
        ...current,
        ...(current.fromEnvironment ? { oidc: undefined, localSignIn: "all", breakGlassUser: "" } : {}),
        requireTotp,
      });
      await audit(c, deps, "auth.settings_changed", "two-step sign-in", { requireTotp });
      return page(c, { notice: "Saved." });
    }
    const values = Object.fromEntries(
      ["issuer", "clientId", "name", "scopes", "usernameClaim", "groupsClaim", "adminGroup", "memberGroup", "breakGlassUser"].map((k) => [
        k,
        (form[k] ?? "").trim().slice(0, 500),
      ]),
    ) as Record<string, string>;
    const localSignIn = form.localSignIn === "break-glass" ? "break-glass" : "all";
    const errors: Record<string, string> = {};
    let oidc: OidcSettings | undefined;
    if (values.issuer) {
      const problem = issuerProblem(values.issuer);
      if (problem) errors.issuer = problem;
      if (!values.clientId) errors.clientId = "Enter the client id the provider gave Patchbay.";
      const secret = (form.clientSecret ?? "").trim() || (current.oidc ? deps.vault.decrypt(current.oidc.clientSecret) : "");
      if (!secret) errors.clientSecret = "Enter the client secret the provider gave Patchbay.";
      oidc = {
        issuer: values.issuer,
        clientId: values.clientId!,
        clientSecret: deps.vault.encrypt(secret),
        name: values.name || OIDC_DEFAULTS.name,
        scopes: normalScopes(values.scopes || OIDC_DEFAULTS.scopes),
        usernameClaim: values.usernameClaim || OIDC_DEFAULTS.usernameClaim,
        groupsClaim: values.groupsClaim || OIDC_DEFAULTS.groupsClaim,
        adminGroup: values.adminGroup!,
        memberGroup: values.memberGroup!,
      };
    }
    if (localSignIn === "break-glass") {
      if (!oidc) errors.localSignIn = "Local passwords can be turned off only with single sign-on set up.";
      const keeper = values.breakGlassUser ? await findUserByUsername(deps.db, values.breakGlassUser) : undefined;
      if (!keeper || keeper.role !== "admin" || keeper.external_id)
        errors.breakGlassUser = "Name a local administrator who keeps a password, in case the sign-in service is down.";
    }
    if (Object.keys(errors).length) return page(c, { values: { ...values, localSignIn }, errors }, 422);
    await saveSignInSettings(deps.db, {
      requireTotp: current.requireTotp,
      oidc,
      localSignIn,
      breakGlassUser: localSignIn === "break-glass" ? values.breakGlassUser! : "",
    });
    forgetDiscovery();
    const secretChanged = Boolean((form.clientSecret ?? "").trim());
    await audit(c, deps, "auth.settings_changed", "single sign-on", {
      issuer: oidc?.issuer ?? "off",
      localSignIn,
      ...(secretChanged ? { secrets: ["clientSecret"] } : {}),
    });
    return page(c, { notice: "Saved." });
  });

  return app;
}
