// Settings → API tokens: everyone manages their own tokens (read and upload scopes), an
// administrator also write and admin ones and sees everyone's. A token is shown once, when it is
// created; it can end on a date and be revoked; its last use is listed.
import { Hono, type Context } from "hono";
import { SCOPE_HELP, type TokenScope, createApiToken, findApiToken, listApiTokens, parseScopes, revokeApiToken, scopesFor } from "../auth/api-tokens.js";
import { audit } from "./audit.js";
import type { AppDeps, AppEnv } from "./context.js";
import { readForm } from "./forms.js";
import { render } from "./render.js";
import { withoutTrailingSlash } from "../text.js";

/** The choices of lifetime offered, in days (0: never ends). */
export const TOKEN_LIFETIMES = [30, 90, 365, 0] as const;

export function tokenRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const page = async (c: Context<AppEnv>, extra: Record<string, unknown> = {}, status: 200 | 403 | 404 | 422 = 200) => {
    const user = c.get("user")!;
    const admin = user.role === "admin";
    return render(
      c,
      deps,
      "./tokens",
      {
        tokens: await listApiTokens(deps.db, admin ? undefined : user.id),
        scopes: scopesFor(user.role).map((s) => ({ id: s, help: SCOPE_HELP[s] })),
        admin,
        lifetimes: TOKEN_LIFETIMES,
        values: { scopes: ["read"], lifetime: "90" },
        errors: {},
        apiUrl: `${withoutTrailingSlash(deps.baseUrl)}/api/v1`,
        ...extra,
      },
      status,
    );
  };

  app.get("/settings/tokens", (c) => page(c));

  app.post("/settings/tokens", async (c) => {
    const user = c.get("user")!;
    const form = await readForm(c);
    const name = (form.name ?? "").trim();
    const errors: Record<string, string> = {};
    if (!name) errors.name = "Name the token after where it is used, like github-actions-api.";
    else if (name.length > 100) errors.name = "The name is at most 100 characters.";
    const asked = (form.scopes ?? "").split(",").filter(Boolean);
    const scopes = parseScopes(asked.join(","));
    const allowed = scopesFor(user.role);
    const beyond = scopes.filter((s) => !allowed.includes(s));
    if (!scopes.length || scopes.length !== asked.length) errors.scopes = "Choose at least one scope from the list.";
    else if (beyond.length) errors.scopes = `Only an administrator can create a token with the ${beyond.join(" or ")} scope.`;
    const lifetime = Number(form.lifetime ?? "90");
    if (!(TOKEN_LIFETIMES as readonly number[]).includes(lifetime)) errors.lifetime = "Choose how long the token works.";
    if (Object.keys(errors).length) return page(c, { values: { name, scopes, lifetime: form.lifetime ?? "" }, errors }, beyond.length ? 403 : 422);
    const expiresAt = lifetime ? new Date(deps.now().getTime() + lifetime * 86_400_000) : null;
    const { token } = await createApiToken(deps.db, { name, scopes: scopes as TokenScope[], owner: user, expiresAt }, deps.now());
    deps.logger.info("API token created", { name, scopes, by: user.username });
    await audit(c, deps, "token.created", name, { scopes, expires: expiresAt?.toISOString().slice(0, 10) ?? "never" });
    return page(c, { created: { name, token } });
  });

  app.post("/settings/tokens/:id{[0-9]+}/revoke", async (c) => {
    const user = c.get("user")!;
    const found = await findApiToken(deps.db, Number(c.req.param("id")));
    // Someone else's token is not theirs to see, so it is "not found" rather than "forbidden".
    if (!found || (user.role !== "admin" && found.user_id !== user.id) || found.revoked_at)
      return page(c, { failure: "This token does not exist or was already revoked." }, 404);
    await revokeApiToken(deps.db, found.id, deps.now());
    deps.logger.info("API token revoked", { id: found.id, by: user.username });
    await audit(c, deps, "token.revoked", found.name);
    return page(c, { notice: `Token ${found.name} revoked: requests with it are refused from now on.` });
  });

  return app;
}
