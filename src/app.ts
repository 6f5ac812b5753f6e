// The Hono app: middleware (request ids and logs, security headers, CSRF origin check,
// body limits, sessions, first-run setup, sign-in) and the route modules.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { getCookie } from "hono/cookie";
import { except } from "hono/combine";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { getConnInfo } from "@hono/node-server/conninfo";
import { isIP } from "node:net";
import { clientAddress, isTrustedPeer } from "./client-address.js";
import { SESSION_COOKIE, validateSessionToken } from "./auth/sessions.js";
import { SIGN_IN_SETTINGS_KEY, type SignInSettings, parseSignInSettings } from "./auth/sign-in-settings.js";
import { countUsers, createUser, findUserByUsername } from "./auth/users.js";
import { hashPassword } from "./auth/password.js";
import type { User } from "./db/schema.js";
import { usernameError } from "./web/forms.js";
import { STORAGE_FULL_MESSAGE, isStorageFull } from "./db/storage.js";
import type { AppDeps, AppEnv } from "./web/context.js";
import { isHtmx, redirect, render, setResponseHeader } from "./web/render.js";
import { accountRoutes } from "./web/account.js";
import { authRoutes, clearSessionCookie, setSessionCookie } from "./web/auth.js";
import { healthRoutes } from "./web/health.js";
import { metricsRoutes } from "./web/metrics.js";
import { httpDuration } from "./metrics.js";
import { integrationRoutes } from "./web/integrations.js";
import { jobRoutes } from "./web/jobs.js";
import { staticRoutes } from "./web/static.js";
import { userRoutes } from "./web/users.js";
import { slaRoutes } from "./web/sla.js";
import { policyRoutes } from "./web/policy.js";
import { ownershipRoutes } from "./web/ownership.js";
import { configurationRoutes } from "./web/configuration.js";
import { trendRoutes } from "./web/trends.js";
import { vulnerabilityRoutes } from "./web/vulnerabilities.js";
import { fixRoutes } from "./web/fixes.js";
import { exploitationRoutes } from "./web/exploitation.js";
import { repositoryRoutes } from "./web/repositories.js";
import { webhookRoutes } from "./web/webhooks.js";
import { remediationRoutes } from "./web/remediations.js";
import { trackerRoutes } from "./web/trackers.js";
import { imageRoutes } from "./web/images.js";
import { packageRoutes } from "./web/packages.js";
import { uploadRoutes } from "./web/uploads.js";
import { API_PREFIX, apiAuthentication, apiRoutes } from "./web/api.js";
import { auditRoutes } from "./web/audit.js";
import { tokenRoutes } from "./web/tokens.js";
import { TWO_STEP_PATHS, mustEnrol, twoStepRoutes } from "./web/two-step.js";
import { signInRoutes } from "./web/sign-in.js";

export type { AppDeps } from "./web/context.js";

const OPENAPI_PATH = `${API_PREFIX}/openapi.json`;
/** Paths reachable without signing in (the API's are signed in by token). */
const PUBLIC_PATHS = /^\/(healthz|readyz|metrics|login|login\/code|login\/oidc|login\/oidc\/callback|setup|static\/.*|favicon\.ico|webhooks\/.*|api\/v1\/.*)$/;
/** What a user signed in with a one-time password may open before choosing their own. */
const ONE_TIME_PASSWORD_PATHS = /^\/(account|account\/password|logout|login)$/;
/** Liveness and readiness probes and the metrics scrape: asked by address (a pod IP), never logged per request. */
const PROBE_PATH = /^\/(healthz|readyz|metrics)$/;
/** Webhooks authenticate by signature and the API by token, not by browser origin; both carry larger bodies. */
const MACHINE_PATH = /^\/(webhooks|api\/v1)\//;
/** Report uploads from the Uploads page stream past the form size limit (the import limits them). */
const UPLOAD_FORM = "/uploads";
/** Feed files uploaded by hand on Settings → Exploitation data: limited by their own route (64 MB). */
const FEED_UPLOAD = /^\/settings\/exploitation\/(kev|epss)\/upload$/;
export const MAX_FORM_BYTES = 64 * 1024;

/** The user an authenticating proxy names: found, or created on first sight (a member, or an admin by group); or why not. */
async function proxyUser(deps: AppDeps, name: string, groups: string | undefined): Promise<User | string> {
  const username = name.trim().toLowerCase();
  const problem = usernameError(username);
  if (problem)
    return `The sign-in proxy named the user "${name.slice(0, 100)}", which Patchbay cannot use as a user name: ${problem} Ask your administrator to map user names in the proxy.`;
  const existing = await findUserByUsername(deps.db, username);
  if (existing) return existing;
  const admin = deps.authProxy?.adminGroup !== undefined && (groups ?? "").split(/[,\s]+/).includes(deps.authProxy.adminGroup);
  // No password: this user signs in through the proxy (an admin can set one on Users).
  const user = await createUser(
    deps.db,
    { username, passwordHash: await hashPassword(crypto.randomUUID() + crypto.randomUUID()), role: admin ? "admin" : "member" },
    deps.now(),
  );
  // Taken meanwhile: the same person's other request (a page and its htmx calls, another replica) created it.
  if (!user) return (await findUserByUsername(deps.db, username)) ?? "Your account was being created and removed at once. Reload the page.";
  deps.logger.info("user created by the sign-in proxy", { user: username, role: user.role });
  return user;
}

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const allowedOrigin = new URL(deps.baseUrl).origin;
  let setupDone = false;

  app.use(
    "*",
    requestId({ limitLength: 64, headerName: "X-Request-Id" }),
    async (c, next) => {
      const started = performance.now();
      const peer = peerAddress(c);
      c.set("clientIp", clientAddress(peer, c.req.header("x-forwarded-for"), deps.trustedProxies));
      c.set("peerTrusted", isTrustedPeer(peer, deps.trustedProxies));
      await next();
      const ms = performance.now() - started;
      // By route pattern (never the raw path: IDs would make a series per finding).
      const route = c.req.routePath && c.req.routePath !== "*" && c.req.routePath !== "/*" ? c.req.routePath : "unmatched";
      httpDuration.observe({ method: c.req.method, route, status: String(c.res.status) }, ms / 1000);
      setResponseHeader(c, "Server-Timing", `app;dur=${ms.toFixed(2)}`);
      if (!PROBE_PATH.test(c.req.path) && !c.req.path.startsWith("/static/")) {
        deps.logger.info("request", {
          reqId: c.get("requestId"),
          method: c.req.method,
          path: c.req.path,
          status: c.res.status,
          ms: Math.round(ms * 10) / 10,
          user: c.get("user")?.username,
        });
      }
    },
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
      },
      referrerPolicy: "same-origin",
    }),
    // Origin verification for every state-changing request from a browser. The request's
    // own origin is accepted too, so a box reached by IP before PATCHBAY_BASE_URL is set works
    // (its Host was checked first: see hostRefusal).
  );
  app.use("*", async (c, next) => {
    if (MACHINE_PATH.test(c.req.path) || PROBE_PATH.test(c.req.path)) return next();
    // The node server builds the request's URL from its Host header.
    const refused = hostRefusal(new URL(c.req.url).host, deps);
    if (refused === undefined) return next();
    deps.logger.warn("request for another host refused", { host: refused.slice(0, 200), path: c.req.path });
    const scheme = new URL(deps.baseUrl).protocol;
    return render(
      c,
      deps,
      "./error",
      {
        title: "Set PATCHBAY_BASE_URL",
        message: deps.baseUrlSet
          ? `Patchbay answers at ${deps.baseUrl}, not at ${refused}. Use that address, or set PATCHBAY_BASE_URL to ${scheme}//${refused} and restart Patchbay.`
          : `Patchbay was reached by the name ${refused}. To use that name, set PATCHBAY_BASE_URL to ${scheme}//${refused} and restart Patchbay (until then it answers only on localhost and IP addresses, so that no other site's name can be pointed at it).`,
      },
      421,
    );
  });
  const formCsrf = csrf({ origin: (origin, c) => origin === allowedOrigin || origin === new URL(c.req.url).origin });
  const formLimit = bodyLimit({
    maxSize: MAX_FORM_BYTES,
    onError: (c) =>
      render(
        c,
        deps,
        "./error",
        { title: "Request too large", message: `The form was larger than ${MAX_FORM_BYTES / 1024} KB. Shorten the values and try again.` },
        413,
      ),
  });
  app.use(
    "*",
    except((c) => MACHINE_PATH.test(c.req.path), formCsrf),
  );
  app.use(
    "*",
    except((c) => MACHINE_PATH.test(c.req.path) || (c.req.method === "POST" && (c.req.path === UPLOAD_FORM || FEED_UPLOAD.test(c.req.path))), formLimit),
  );

  const tokenAuth = apiAuthentication(deps);
  const pageNotFound = (c: Parameters<typeof isHtmx>[0]) =>
    render(c, deps, "./error", { title: "Page not found", message: "There is nothing at this address. Use the menu to find your way." }, 404);
  app.use("*", async (c, next) => {
    c.set("user", undefined);
    c.set("sessionId", undefined);
    c.set("via", undefined);
    c.set("grant", undefined);
    // The API signs in by token, never by cookie (so no page's session can be used against it).
    if (c.req.path.startsWith(`${API_PREFIX}/`) && c.req.path !== OPENAPI_PATH) return tokenAuth(c, next);
    if (PUBLIC_PATHS.test(c.req.path) && c.req.path !== "/login") return next();
    if (!setupDone) {
      setupDone = (await countUsers(deps.db)) > 0;
      if (!setupDone && c.req.path !== "/setup") return redirect(c, "/setup");
    }
    // Behind an authenticating proxy: its header names the user, from the proxy's own address only.
    const proxied = deps.authProxy ? c.req.header(deps.authProxy.header) : undefined;
    if (proxied !== undefined && deps.authProxy) {
      if (c.get("peerTrusted")) {
        const signedIn = await proxyUser(deps, proxied, c.req.header(deps.authProxy.groupsHeader));
        if (typeof signedIn === "string") return render(c, deps, "./error", { title: "Not signed in", message: signedIn }, 403);
        c.set("user", signedIn);
        c.set("via", "proxy");
        return next();
      }
      deps.logger.warn("sign-in header from an untrusted address ignored", { header: deps.authProxy.header, ip: c.get("clientIp") });
    }
    const token = getCookie(c, SESSION_COOKIE);
    // Whether two-step sign-in is required: read in the session's own statement.
    let signInSettings: SignInSettings | undefined;
    let expired = false;
    if (token) {
      const lookup = await validateSessionToken(deps.db, token, deps.now(), SIGN_IN_SETTINGS_KEY);
      if (lookup.status === "valid") {
        c.set("user", lookup.session.user);
        c.set("sessionId", lookup.session.id);
        signInSettings = parseSignInSettings(lookup.session.meta);
        if (lookup.session.renewed) setSessionCookie(c, deps, token, lookup.session.expiresAt);
      } else {
        expired = lookup.status === "expired";
        clearSessionCookie(c, deps);
      }
    }
    if (!c.get("user") && !PUBLIC_PATHS.test(c.req.path)) {
      const next = c.req.method === "GET" && !isHtmx(c) ? c.req.path + (new URL(c.req.url).search || "") : "/integrations";
      return redirect(c, `/login?${new URLSearchParams({ next, ...(expired ? { expired: "1" } : {}) })}`);
    }
    // Signed in with a one-time password: choosing one's own comes first.
    if (c.get("user")?.must_change_password && !ONE_TIME_PASSWORD_PATHS.test(c.req.path)) return redirect(c, "/account?reset=1");
    // Two-step sign-in required of every local account: turning it on comes first.
    if (!TWO_STEP_PATHS.test(c.req.path) && (await mustEnrol(deps, c, signInSettings))) return redirect(c, "/account/two-step");
    return next();
  });

  // An id in a path beyond what a number holds exactly (and PostgreSQL's bigint) names nothing:
  // 404 for every route, never a database error.
  app.use("*", async (c, next) => {
    if (!c.req.path.split("/").some((part) => /^\d{16,}$/.test(part) && !Number.isSafeInteger(Number(part)))) return next();
    if (MACHINE_PATH.test(c.req.path)) return c.json({ error: "There is nothing with this id." }, 404);
    return pageNotFound(c);
  });

  app.route("/", healthRoutes(deps));
  app.route("/", metricsRoutes(deps));
  app.route("/", webhookRoutes(deps));
  app.route("/", staticRoutes());
  app.route(
    "/",
    authRoutes(deps, () => (setupDone = true)),
  );
  app.route("/", accountRoutes(deps));
  app.route("/", twoStepRoutes(deps));
  app.route("/", signInRoutes(deps));
  app.route("/", userRoutes(deps));
  app.route("/", slaRoutes(deps));
  app.route("/", policyRoutes(deps));
  app.route("/", ownershipRoutes(deps));
  app.route("/", configurationRoutes(deps));
  app.route("/", trendRoutes(deps));
  app.route("/", integrationRoutes(deps));
  app.route("/", jobRoutes(deps));
  app.route("/", trackerRoutes(deps));
  app.route("/", imageRoutes(deps));
  app.route("/", packageRoutes(deps));
  app.route("/", uploadRoutes(deps));
  app.route("/", tokenRoutes(deps));
  app.route("/", apiRoutes(deps));
  app.route("/", auditRoutes(deps));
  app.route("/", fixRoutes(deps));
  app.route("/", exploitationRoutes(deps));
  app.route("/", vulnerabilityRoutes(deps));
  app.route("/", repositoryRoutes(deps));
  app.route("/", remediationRoutes(deps));
  app.get("/", (c) => c.redirect("/integrations"));

  app.notFound(pageNotFound);
  app.onError((err, c) => {
    if (err instanceof HTTPException && err.status === 403) {
      return render(
        c,
        deps,
        "./error",
        {
          title: "Request refused",
          message:
            "This request did not come from a Patchbay page (its Origin header is missing or belongs to another site), so it was refused to protect against cross-site request forgery. Reload the page and try again; if Patchbay sits behind a proxy, set PATCHBAY_BASE_URL to the address in your browser.",
        },
        403,
      );
    }
    if (err instanceof HTTPException) return err.getResponse();
    const full = isStorageFull(err);
    deps.logger.error(full ? "request failed: storage full" : "request failed", { reqId: c.get("requestId"), path: c.req.path, error: err, stack: err.stack });
    const message = full ? STORAGE_FULL_MESSAGE : `Patchbay could not complete this request. The logs have the details under request id ${c.get("requestId")}.`;
    // Machines (CI uploads, webhooks) read JSON, never a page.
    if (MACHINE_PATH.test(c.req.path)) return c.json({ error: message, requestId: c.get("requestId") }, full ? 503 : 500);
    return render(c, deps, "./error", { title: full ? "Storage full" : "Something went wrong", message }, full ? 503 : 500);
  });
  return app;
}

function peerAddress(c: Parameters<typeof isHtmx>[0]): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
}

/**
 * DNS rebinding: an attacker's domain that resolves to this box must not get a browser to use
 * Patchbay's pages (or claim first-run setup) as same-origin. With PATCHBAY_BASE_URL set, only
 * its host is served; without it, loopback names and IP literals (one `docker run` reached by
 * address), and any other name gets a page saying what to set.
 */
function hostRefusal(host: string | undefined, deps: Pick<AppDeps, "baseUrl" | "baseUrlSet">): string | undefined {
  const given = (host ?? "").toLowerCase();
  if (deps.baseUrlSet) return given === new URL(deps.baseUrl).host.toLowerCase() ? undefined : given;
  let hostname: string;
  try {
    hostname = new URL(`http://${given}`).hostname;
  } catch {
    return given;
  }
  const bare = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  if (hostname === "localhost" || hostname.endsWith(".localhost") || isIP(bare)) return undefined;
  return given;
}
