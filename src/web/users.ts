// Settings → Users (admins only): add people with a role, change roles, remove accounts.
import { Hono } from "hono";
import type { Context, Next } from "hono";
import { hashPassword } from "../auth/password.js";
import { invalidateUserSessions } from "../auth/sessions.js";
import { countAdmins, createUser, deleteUser, findUserById, findUserByUsername, listUsers, updateRole } from "../auth/users.js";
import type { Role } from "../db/schema.js";
import type { AppDeps, AppEnv } from "./context.js";
import { newPasswordErrors, readForm, usernameError } from "./forms.js";
import { render } from "./render.js";
import { audit } from "./audit.js";
import { revokeTokensOf } from "../auth/api-tokens.js";

export function requireAdmin(deps: AppDeps) {
  return async <E extends AppEnv>(c: Context<E>, next: Next) => {
    if (c.get("user")?.role !== "admin") {
      return render(
        c,
        deps,
        "./error",
        { title: "Administrators only", message: "Only an administrator can do this. Ask an administrator of this Patchbay for help." },
        403,
      );
    }
    await next();
  };
}

function parseRole(value: string | undefined): Role | undefined {
  return value === "admin" || value === "member" ? value : undefined;
}

export function userRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("/settings/users", requireAdmin(deps));
  app.use("/settings/users/*", requireAdmin(deps));

  const page = async (c: Context<AppEnv>, extra: Record<string, unknown> = {}, status: 200 | 422 = 200) =>
    render(c, deps, "./users", { users: await listUsers(deps.db), values: {}, errors: {}, ...extra }, status);

  app.get("/settings/users", (c) => page(c, { reset: c.req.query("reset") === "1" }));

  app.post("/settings/users", async (c) => {
    const form = await readForm(c);
    const username = (form.username ?? "").trim().toLowerCase();
    const role = parseRole(form.role);
    const errors = newPasswordErrors(form.password ?? "", form.confirm ?? "", username);
    const nameError = usernameError(username) ?? ((await findUserByUsername(deps.db, username)) ? "A user with this name already exists." : undefined);
    if (nameError) errors.username = nameError;
    if (!role) errors.role = "Choose admin or member.";
    if (Object.keys(errors).length) return page(c, { values: { username, role: form.role }, errors }, 422);
    if (!(await createUser(deps.db, { username, passwordHash: await hashPassword(form.password!), role: role! }, deps.now())))
      return page(c, { values: { username, role: form.role }, errors: { username: "A user with this name already exists." } }, 422);
    deps.logger.info("user added", { user: username, role, by: c.get("user")!.username });
    await audit(c, deps, "user.created", username, { role });
    return page(c, { notice: `Added ${username} as ${role}.` });
  });

  app.post("/settings/users/:id/role", async (c) => {
    const target = await findUserById(deps.db, Number(c.req.param("id")));
    const role = parseRole((await readForm(c)).role);
    if (!target || !role) return page(c, { failure: "That user or role does not exist." }, 422);
    if (target.role === "admin" && role !== "admin" && (await countAdmins(deps.db)) <= 1) {
      return page(c, { failure: `${target.username} is the only administrator; make someone else an administrator first.` }, 422);
    }
    await updateRole(deps.db, target.id, role);
    deps.logger.info("user role changed", { user: target.username, role, by: c.get("user")!.username });
    await audit(c, deps, "user.role_changed", target.username, { from: target.role, to: role });
    return page(c, { notice: `${target.username} is now ${role === "admin" ? "an admin" : "a member"}.` });
  });

  app.post("/settings/users/:id/delete", async (c) => {
    const target = await findUserById(deps.db, Number(c.req.param("id")));
    if (!target) return page(c, { failure: "That user does not exist." }, 422);
    if (target.id === c.get("user")!.id) return page(c, { failure: "You cannot remove your own account." }, 422);
    if (target.role === "admin" && (await countAdmins(deps.db)) <= 1) {
      return page(c, { failure: `${target.username} is the only administrator and cannot be removed.` }, 422);
    }
    await invalidateUserSessions(deps.db, target.id);
    await deleteUser(deps.db, target.id);
    await revokeTokensOf(deps.db, target.id, deps.now());
    deps.logger.info("user removed", { user: target.username, by: c.get("user")!.username });
    await audit(c, deps, "user.removed", target.username, { role: target.role });
    return page(c, { notice: `Removed ${target.username}.` });
  });

  return app;
}
