// The signed-in user's own account: change password.
import { Hono } from "hono";
import { MAX_PASSWORD_LENGTH, hashPassword, verifyPassword } from "../auth/password.js";
import { clearAttempts, releaseAttempt } from "../auth/rate-limit.js";
import { invalidateUserSessions } from "../auth/sessions.js";
import { updatePassword } from "../auth/users.js";
import type { AppDeps, AppEnv } from "./context.js";
import { newPasswordErrors, readForm } from "./forms.js";
import { reserveSignIn, tooManyMessage } from "./auth.js";
import { render } from "./render.js";
import { audit } from "./audit.js";

export function accountRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/account", (c) => render(c, deps, "./account", { errors: {} }));

  app.post("/account/password", async (c) => {
    const user = c.get("user")!;
    const form = await readForm(c);
    // Knowing the current password is what protects the account from a stolen session: guessing it here is throttled like sign-in.
    const ipKey = `ip:${c.get("clientIp")}`;
    const accountKey = `password:${user.id}`;
    const waitMs = await reserveSignIn(deps, ipKey, accountKey);
    if (waitMs > 0) return render(c, deps, "./account", { errors: { current: tooManyMessage(c, waitMs, "password checks") } }, 429);
    const errors = newPasswordErrors(form.password ?? "", form.confirm ?? "", user.username);
    if (!(await verifyPassword(user.password_hash, (form.current ?? "").slice(0, MAX_PASSWORD_LENGTH)))) {
      errors.current = "This is not your current password.";
    } else {
      await releaseAttempt(deps.db, ipKey);
      await clearAttempts(deps.db, accountKey);
    }
    if (Object.keys(errors).length) return render(c, deps, "./account", { errors }, 422);
    await updatePassword(deps.db, user.id, await hashPassword(form.password!), deps.now());
    await invalidateUserSessions(deps.db, user.id, c.get("sessionId"));
    deps.logger.info("password changed", { user: user.username });
    await audit(c, deps, "auth.password_changed", user.username);
    return render(c, deps, "./account", { errors: {}, notice: "Your password was changed. Your other sessions were signed out." });
  });

  return app;
}
