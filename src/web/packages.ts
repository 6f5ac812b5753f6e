// Packages: the ones the organisation publishes (package registries), each with the versions
// its repositories use and how many are behind the latest; and a search of every dependency
// the repositories' manifests resolve ("which repositories use log4j-core?").
import { Hono } from "hono";
import { countDependencies, searchDependencies, usersOf, usesOf } from "../dependencies/store.js";
import { findPackage, listPackages } from "../packages/store.js";
import { compareVersions, versionProblem } from "../vuln/versions/index.js";
import type { AppDeps, AppEnv } from "./context.js";
import { render } from "./render.js";

const SEARCH_LIMIT = 200;

export function packageRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/packages", async (c) => {
    const q = (c.req.query("q") ?? "").trim().slice(0, 100);
    const own = await listPackages(deps.db);
    // Repositories using each of our packages, and how many are behind its latest version.
    const usage = await usesOf(deps.db, own);
    const packages = own.map((p) => {
      const uses = usage.filter((u) => u.ecosystem === p.ecosystem && u.name === p.name);
      const repositories = new Set(uses.map((u) => u.repository_id));
      const behind = new Set(uses.filter((u) => p.latest && (compareVersions(p.ecosystem, u.version, p.latest) ?? 0) < 0).map((u) => u.repository_id));
      return { ...p, versionCount: (JSON.parse(p.versions) as string[]).length, repositories: repositories.size, behind: behind.size };
    });
    const results = q ? await searchDependencies(deps.db, q, SEARCH_LIMIT + 1) : [];
    const more = results.length > SEARCH_LIMIT;
    const shown = results.slice(0, SEARCH_LIMIT).map((r) => ({ ...r, via: r.via ? (JSON.parse(r.via) as string[]) : [] }));
    return render(c, deps, "./packages/index", { packages, q, results: shown, more, dependencyCount: await countDependencies(deps.db) });
  });

  app.get("/packages/:id{[0-9]+}", async (c) => {
    const pkg = await findPackage(deps.db, Number(c.req.param("id")));
    if (!pkg)
      return render(c, deps, "./error", { title: "Package not found", message: "This package is no longer listed by its registry. Go back to Packages." }, 404);
    const uses = await usersOf(deps.db, pkg);
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
