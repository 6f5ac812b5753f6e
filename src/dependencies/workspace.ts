// The workspace a scan of Patchbay's own knowledge reads: the repositories of connected
// source control (their files through each one's integration, credentials refreshed per
// repository so a long scan outlives short-lived tokens), the packages the organisation
// publishes, what each repository's manifests resolve, and a cache that outlives the scan.
import type { Services } from "../services.js";
import { connectorContext } from "../connectors/context.js";
import type { RepositoryFiles, ResolvedDependency, Workspace, WorkspaceRepository } from "../connectors/types.js";
import { chunks } from "../db/chunks.js";
import { connectionFor } from "../integrations/oauth.js";

export function createWorkspace(deps: Services): Workspace {
  const { db } = deps;
  const ctx = connectorContext(deps.env);
  return {
    async repositories() {
      const rows = await db
        .selectFrom("repositories")
        .innerJoin("integrations", "integrations.id", "repositories.integration_id")
        .select([
          "repositories.id",
          "repositories.integration_id",
          "repositories.full_name",
          "repositories.url",
          "repositories.default_branch",
          "integrations.kind",
        ])
        .where("repositories.accessible", "=", 1)
        .where("repositories.archived", "=", 0)
        .orderBy("repositories.id")
        .execute();
      const out: WorkspaceRepository[] = [];
      for (const row of rows) {
        const connector = deps.catalogue.get(row.kind);
        const scm = connector?.scm;
        if (!connector || !scm) continue;
        let files: Promise<RepositoryFiles> | undefined;
        const open = () =>
          (files ??= (async () => {
            const integration = await db.selectFrom("integrations").selectAll().where("id", "=", row.integration_id!).executeTakeFirstOrThrow();
            return scm.files(await connectionFor(deps, connector, integration), ctx, { fullName: row.full_name, defaultBranch: row.default_branch });
          })());
        out.push({
          id: row.id,
          integrationId: row.integration_id!,
          fullName: row.full_name,
          url: row.url ?? "",
          files: { list: async () => (await open()).list(), read: async (path, maxBytes) => (await open()).read(path, maxBytes) },
        });
      }
      return out;
    },

    async ownPackages() {
      const rows = await db
        .selectFrom("packages")
        .innerJoin("integrations", "integrations.id", "packages.integration_id")
        .select(["packages.ecosystem", "packages.name", "integrations.name as publisher"])
        .execute();
      return new Map(rows.map((r) => [`${r.ecosystem}:${r.name}`, r.publisher]));
    },

    async recordDependencies(repositoryId: number, byPath: Map<string, ResolvedDependency[]>) {
      const stamp = deps.now().toISOString();
      const rows = [...byPath].flatMap(([path, list]) =>
        list.map((d) => ({
          repository_id: repositoryId,
          path,
          ecosystem: d.ecosystem,
          name: d.name,
          version: d.version,
          direct: d.direct === undefined ? null : d.direct ? 1 : 0,
          scope: d.scope ?? null,
          via: d.via?.length ? JSON.stringify(d.via) : null,
          updated_at: stamp,
        })),
      );
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom("repository_dependencies").where("repository_id", "=", repositoryId).execute();
        for (const chunk of chunks(rows, 400)) await trx.insertInto("repository_dependencies").values(chunk).execute();
      });
    },

    cache: {
      async get(key) {
        return (await db.selectFrom("dependency_cache").select("value").where("key", "=", key).executeTakeFirst())?.value;
      },
      async set(key, value) {
        const stamp = deps.now().toISOString();
        await db
          .insertInto("dependency_cache")
          .values({ key, value, updated_at: stamp })
          .onConflict((oc) => oc.column("key").doUpdateSet({ value, updated_at: stamp }))
          .execute();
      },
    },
  };
}
