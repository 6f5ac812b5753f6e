// Two-step sign-in on one's own account: turn it on (scan the QR code drawn here, enter the first
// code, keep the recovery codes shown once), make new recovery codes, turn it off (password and a
// code). Administrators turn it off for someone who lost their phone (Settings → Users); whether
// every local account must use it is on Settings → Sign-in (web/sign-in.ts).
import { Hono, type Context } from "hono";
import { MAX_PASSWORD_LENGTH, verifyPassword } from "../auth/password.js";
import { type SignInSettings, loadSignInSettings } from "../auth/sign-in-settings.js";
import {
  checkSecondFactor,
  deleteRecoveryCodes,
  matchingStep,
  newRecoveryCodes,
  newTotpKey,
  openTotpKey,
  qrCodeSvg,
  recoveryCodesLeft,
  sealTotpKey,
  totpUri,
  typedKey,
} from "../auth/totp.js";
import { disableTotp, enableTotp, findUserById, setPendingTotpKey } from "../auth/users.js";
import type { User } from "../db/schema.js";
import { audit } from "./audit.js";
import type { AppDeps, AppEnv } from "./context.js";
import { readForm } from "./forms.js";
import { reserveSignIn, tooManyMessage } from "./auth.js";
import { render } from "./render.js";
import { requireAdmin } from "./users.js";

const ISSUER = "Patchbay";

/** Signed in through a proxy or a provider: two-step sign-in is theirs to ask for, not Patchbay's. */
const localSession = (c: Context<AppEnv>) => c.get("via") === undefined && !c.get("user")?.external_id;

export function twoStepRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const page = async (c: Context<AppEnv>, extra: Record<string, unknown> = {}, status: 200 | 400 | 422 | 429 = 200) => {
    const user = (await findUserById(deps.db, c.get("user")!.id))!;
    const settings = await loadSignInSettings(deps.db);
    let enrol: { svg: string; typed: string } | undefined;
    if (!user.totp_key && user.totp_pending_key) {
      const key = openTotpKey(deps.vault, user.totp_pending_key);
      enrol = { svg: qrCodeSvg(totpUri(ISSUER, user.username, key)), typed: typedKey(key) };
    }
    return render(
      c,
      deps,
      "./two-step",
      {
        on: Boolean(user.totp_key),
        since: user.totp_enabled_at,
        left: user.totp_key ? await recoveryCodesLeft(deps.db, user.id) : 0,
        enrol,
        required: settings.requireTotp && !user.totp_key,
        local: localSession(c),
        errors: {},
        ...extra,
      },
      status,
    );
  };

  app.get("/account/two-step", (c) => page(c));

  // A new key to enrol: drawn as a QR code until its first code is entered.
  app.post("/account/two-step/start", async (c) => {
    const user = c.get("user")!;
    if (user.totp_key) return page(c, { failure: "Two-step sign-in is already on. Turn it off first to move it to another app." }, 422);
    await setPendingTotpKey(deps.db, user.id, sealTotpKey(deps.vault, newTotpKey()));
    return c.redirect("/account/two-step", 303);
  });

  app.post("/account/two-step/confirm", async (c) => {
    const user = (await findUserById(deps.db, c.get("user")!.id))!;
    if (user.totp_key) return c.redirect("/account/two-step", 303);
    if (!user.totp_pending_key) return page(c, { failure: "Start again: choose Turn on two-step sign-in." }, 422);
    const form = await readForm(c);
    const step = matchingStep(openTotpKey(deps.vault, user.totp_pending_key), form.code ?? "", deps.now());
    if (step === undefined)
      return page(c, { errors: { code: "That code does not match. Check that your phone's clock is right and enter the code the app shows now." } }, 422);
    await enableTotp(deps.db, user.id, user.totp_pending_key, step, deps.now());
    const codes = await newRecoveryCodes(deps.db, user.id);
    deps.logger.info("two-step sign-in turned on", { user: user.username });
    await audit(c, deps, "auth.totp_enabled", user.username);
    return page(c, { codes, notice: "Two-step sign-in is on. From now on, Patchbay asks for a code after your password." });
  });

  /** The password and a current code (or a recovery code) prove it is the account's owner; or the problem. */
  const proveOwner = async (c: Context<AppEnv>, form: Record<string, string>): Promise<User | { errors: Record<string, string>; status: 422 | 429 }> => {
    const user = (await findUserById(deps.db, c.get("user")!.id))!;
    const waitMs = await reserveSignIn(deps, `ip:${c.get("clientIp")}`, `password:${user.id}`);
    if (waitMs > 0) return { errors: { password: tooManyMessage(c, waitMs, "password checks") }, status: 429 };
    const errors: Record<string, string> = {};
    if (!(await verifyPassword(user.password_hash, (form.password ?? "").slice(0, MAX_PASSWORD_LENGTH)))) errors.password = "This is not your password.";
    else if (user.totp_key && !(await checkSecondFactor(deps.db, deps.vault, user, form.code ?? "", deps.now())))
      errors.code = "That code is not right, or was already used.";
    return Object.keys(errors).length ? { errors, status: 422 } : user;
  };

  app.post("/account/two-step/disable", async (c) => {
    const proved = await proveOwner(c, await readForm(c));
    if ("errors" in proved) return page(c, { errors: proved.errors, disabling: true }, proved.status);
    await disableTotp(deps.db, proved.id);
    await deleteRecoveryCodes(deps.db, proved.id);
    deps.logger.info("two-step sign-in turned off", { user: proved.username });
    await audit(c, deps, "auth.totp_disabled", proved.username);
    return page(c, { notice: "Two-step sign-in is off." });
  });

  app.post("/account/two-step/recovery-codes", async (c) => {
    const proved = await proveOwner(c, await readForm(c));
    if ("errors" in proved) return page(c, { errors: proved.errors, renewing: true }, proved.status);
    const codes = await newRecoveryCodes(deps.db, proved.id);
    return page(c, { codes, notice: "New recovery codes made: the old ones no longer work." });
  });

  // --- administrators ---------------------------------------------------------------------
  app.post("/settings/users/:id{[0-9]+}/two-step/reset", requireAdmin(deps), async (c) => {
    const target = await findUserById(deps.db, Number(c.req.param("id")));
    if (!target) return c.redirect("/settings/users", 303);
    await disableTotp(deps.db, target.id);
    await deleteRecoveryCodes(deps.db, target.id);
    deps.logger.info("two-step sign-in reset", { user: target.username, by: c.get("user")!.username });
    await audit(c, deps, "auth.totp_disabled", target.username, { by: "administrator" });
    return c.redirect("/settings/users?reset=1", 303);
  });

  return app;
}

/** Where a local account that must turn on two-step sign-in may go before it has. */
export const TWO_STEP_PATHS = /^\/(account|account\/two-step(\/start|\/confirm)?|logout|login)$/;

/** Whether this signed-in user must enrol before anything else. */
export async function mustEnrol(deps: AppDeps, c: Context<AppEnv>, read?: SignInSettings): Promise<boolean> {
  const user = c.get("user");
  if (!user || user.totp_key || user.external_id || !localSession(c)) return false;
  return (read ?? (await loadSignInSettings(deps.db))).requireTotp;
}
