// Settings → Configuration (admins only): export the setup as YAML, the JSON Schema it follows,
// and import — the document is read and checked, the differences are shown with the secrets
// it needs, and only "Apply" changes anything.
import { type Context, Hono } from "hono";
import type { SecretValues } from "../connectors/types.js";
import { configurationSchema, exportConfiguration, parseConfiguration, toYaml } from "../configuration/document.js";
import { applyImport, planImport } from "../configuration/import.js";
import type { AppDeps, AppEnv } from "./context.js";
import { render } from "./render.js";
import { requireAdmin } from "./users.js";
import { audit } from "./audit.js";

const MAX_UPLOAD = 2 * 1024 * 1024;

export function configurationRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("/settings/configuration", requireAdmin(deps));
  app.use("/settings/configuration/*", requireAdmin(deps));

  const page = (c: Context<AppEnv>, extra: Record<string, unknown> = {}, status: 200 | 422 = 200) =>
    render(c, deps, "./configuration/index", { document: "", errors: [], ...extra }, status);

  app.get("/settings/configuration", (c) => page(c));

  app.get("/settings/configuration/export.yaml", async (c) => {
    const now = deps.now();
    const yaml = toYaml(await exportConfiguration(deps), now);
    deps.logger.info("configuration exported", { by: c.get("user")!.username });
    c.header("content-type", "application/yaml; charset=utf-8");
    c.header("content-disposition", `attachment; filename="patchbay-configuration-${now.toISOString().slice(0, 10)}.yaml"`);
    c.header("cache-control", "no-store");
    return c.body(yaml);
  });

  app.get("/settings/configuration/schema.json", (c) => {
    c.header("content-type", "application/schema+json; charset=utf-8");
    return c.body(JSON.stringify(configurationSchema(deps.catalogue), null, 2));
  });

  const readDocument = async (c: Context<AppEnv>): Promise<{ text: string; secrets: Map<number, SecretValues>; error?: string }> => {
    const body = await c.req.parseBody({ all: true });
    const secrets = new Map<number, SecretValues>();
    for (const [k, v] of Object.entries(body)) {
      const m = /^secret\.(\d{1,4})\.([A-Za-z][\w]{0,60})$/.exec(k);
      if (m && typeof v === "string") secrets.set(Number(m[1]), { ...(secrets.get(Number(m[1])) ?? {}), [m[2]!]: v });
    }
    const file = body.file;
    if (file instanceof File && file.size > 0) {
      if (file.size > MAX_UPLOAD)
        return { text: "", secrets, error: "The file is larger than 2 MB; a Patchbay configuration is far smaller. Check that this is the right file." };
      return { text: await file.text(), secrets };
    }
    return { text: typeof body.document === "string" ? body.document : "", secrets };
  };

  app.post("/settings/configuration/preview", async (c) => {
    const { text, error } = await readDocument(c);
    if (error) return page(c, { document: "", errors: [error] }, 422);
    const parsed = parseConfiguration(text, deps.catalogue);
    if (!parsed.ok) return page(c, { document: text, errors: parsed.errors }, 422);
    const plan = await planImport(deps, parsed.doc);
    return render(c, deps, "./configuration/preview", { document: text, plan }, plan.errors.length ? 422 : 200);
  });

  app.post("/settings/configuration/apply", async (c) => {
    const { text, secrets, error } = await readDocument(c);
    if (error) return page(c, { document: "", errors: [error] }, 422);
    const parsed = parseConfiguration(text, deps.catalogue);
    if (!parsed.ok) return page(c, { document: text, errors: parsed.errors }, 422);
    // The plan again: the setup may have changed since the preview.
    const plan = await planImport(deps, parsed.doc);
    if (plan.errors.length) return render(c, deps, "./configuration/preview", { document: text, plan }, 422);
    const missing = plan.secrets
      .filter((s) => s.creating)
      .flatMap((s) => s.fields.filter((f) => f.listed && !secrets.get(s.index)?.[f.name]).map((f) => `${s.name}: ${f.label}`));
    if (missing.length) {
      return render(
        c,
        deps,
        "./configuration/preview",
        { document: text, plan: { ...plan, errors: [`Enter the secrets the new integrations need (${missing.join("; ")}).`] } },
        422,
      );
    }
    const result = await applyImport(deps, parsed.doc, secrets, c.get("user")!.username);
    await audit(c, deps, "configuration.imported", "configuration document", {
      applied: result.applied.length,
      failed: result.failed.length,
    });
    return render(c, deps, "./configuration/result", { result }, result.failed.length ? 422 : 200);
  });

  return app;
}
