// Packages: the ones the organisation publishes (package registries), each with the versions
// its repositories use and how many are behind the latest; and a search of every dependency
// the repositories' manifests resolve ("which repositories use log4j-core?").
import { Hono } from "hono";
import { sql } from "kysely";
import { compareVersions, versionProblem } from "../vuln/versions/index.js";
import type { AppDeps, AppEnv } from "./context.js";
import { render } from "./render.js";

const SEARCH_LIMIT = 200;

function like(q: string) {
  return `%${q.replace(/[%_\\]/g, (ch) => `\\${ch}`)}%`;
}

export function packageRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/packages", async (c) => {
    const q = (c.req.query("q") ?? "").trim().slice(0, 100);
    const own = await deps.db
      .selectFrom("packages")
      .innerJoin("integrations", "integrations.id", "packages.integration_id")
      .select(["packages.id", "packages.ecosystem", "packages.name", "packages.latest", "packages.versions", "packages.updated_at", "integrations.name as registry"])
      .orderBy("packages.name")
      .execute();
    // Repositories using each of our packages, and how many are behind its latest version.
    const usage = own.length
      ? await deps.db
          .selectFrom("repository_dependencies")
          .select(["ecosystem", "name", "version", "repository_id"])
          .where((eb) => eb.or(own.map((p) => eb.and([eb("ecosystem", "=", p.ecosystem), eb("name", "=", p.name)]))))
          .execute()
      : [];
    const packages = own.map((p) => {
      const uses = usage.filter((u) => u.ecosystem === p.ecosystem && u.name === p.name);
      const repositories = new Set(uses.map((u) => u.repository_id));
      const behind = new Set(uses.filter((u) => p.latest && (compareVersions(p.ecosystem, u.version, p.latest) ?? 0) < 0).map((u) => u.repository_id));
      return { ...p, versionCount: (JSON.parse(p.versions) as string[]).length, repositories: repositories.size, behind: behind.size };
    });
    let results: { full_name: string; url: string | null; path: string; ecosystem: string; name: string; version: string; direct: number | null; scope: string | null; via: string | null }[] = [];
    if (q) {
      results = await deps.db
        .selectFrom("repository_dependencies")
        .innerJoin("repositories", "repositories.id", "repository_dependencies.repository_id")
        .select(["repositories.full_name", "repositories.url", "repository_dependencies.path", "repository_dependencies.ecosystem", "repository_dependencies.name", "repository_dependencies.version", "repository_dependencies.direct", "repository_dependencies.scope", "repository_dependencies.via"])
        .where(sql<boolean>`repository_dependencies.name like ${like(q.toLowerCase())} escape '\\'`)
        .orderBy("repository_dependencies.name")
        .orderBy("repositories.full_name")
        .limit(SEARCH_LIMIT + 1)
        .execute();
    }
    const more = results.length > SEARCH_LIMIT;
    const dependencyCount = await deps.db.selectFrom("repository_dependencies").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    const shown = results.slice(0, SEARCH_LIMIT).map((r) => ({ ...r, via: r.via ? (JSON.parse(r.via) as string[]) : [] }));
    return render(c, deps, "./packages/index", { packages, q, results: shown, more, dependencyCount: Number(dependencyCount.n) });
  });

  app.get("/packages/:id{[0-9]+}", async (c) => {
    const pkg = await deps.db
      .selectFrom("packages")
      .innerJoin("integrations", "integrations.id", "packages.integration_id")
      .select(["packages.id", "packages.ecosystem", "packages.name", "packages.latest", "packages.versions", "packages.updated_at", "integrations.name as registry"])
      .where("packages.id", "=", Number(c.req.param("id")))
      .executeTakeFirst();
    if (!pkg) return render(c, deps, "./error", { title: "Package not found", message: "This package is no longer listed by its registry. Go back to Packages." }, 404);
    const uses = await deps.db
      .selectFrom("repository_dependencies")
      .innerJoin("repositories", "repositories.id", "repository_dependencies.repository_id")
      .select(["repositories.full_name", "repositories.url", "repository_dependencies.path", "repository_dependencies.version"])
      .where("repository_dependencies.ecosystem", "=", pkg.ecosystem)
      .where("repository_dependencies.name", "=", pkg.name)
      .orderBy("repositories.full_name")
      .execute();
    // A version the ecosystem's rules cannot read is shown with the reason, never counted as behind.
    const rows = uses.map((u) => ({
      ...u,
      behind: pkg.latest !== null && (compareVersions(pkg.ecosystem, u.version, pkg.latest) ?? 0) < 0,
      unreadable: versionProblem(pkg.ecosystem, u.version),
    }));
    return render(c, deps, "./packages/detail", { pkg: { ...pkg, versions: (JSON.parse(pkg.versions) as string[]).slice().reverse() }, rows });
  });

  return app;
}
