// Job `ownership.sync`: after each repository sync, reads every repository's CODEOWNERS
// through its source control (the file listing gives blob ids, so an unchanged file is not
// read again). A repository that cannot be read keeps what was read before; lost
// credentials fail the job like any sync.
import { loadConnected } from "../integrations/store.js";
import type { Services } from "../services.js";
import { connectorContext } from "../connectors/context.js";
import type { Db } from "../db/schema.js";
import { ExternalError } from "../http.js";
import { connectionFor } from "../integrations/oauth.js";
import { enqueue, jobKind, perIntegration } from "../jobs/queue.js";
import type { JobHandler } from "../jobs/worker.js";
import { type Codeowners, parseCodeowners } from "./codeowners.js";
import { saveCodeowners } from "./ownership.js";

export const OWNERSHIP_JOB = jobKind<{ integrationId: number }>("ownership.sync", {
  label: "CODEOWNERS read",
  maxAttempts: 3,
  ...perIntegration("ownership.sync"),
});
/** Larger files are not CODEOWNERS anyone maintains by hand; GitHub's own limit is 3 MB. */
const MAX_BYTES = 3 * 1024 * 1024;

export function enqueueOwnershipSync(db: Db, integrationId: number, now: Date): Promise<number> {
  return enqueue(db, OWNERSHIP_JOB, { integrationId }, now);
}

export function ownershipSyncHandler(deps: Services): JobHandler<{ integrationId: number }> {
  return async ({ payload, logger, progress }) => {
    const { db } = deps;
    const { integrationId } = payload;
    const found = await loadConnected(db, deps.catalogue, integrationId, "scm");
    if (!found) return;
    const { integration, connector } = found;
    const scm = connector.scm;
    const candidates = scm.codeownersPaths;
    const ctx = connectorContext({ ...deps.env, logger });
    const connection = await connectionFor(deps, connector, integration);
    const repos = await db
      .selectFrom("repositories")
      .select(["id", "full_name", "default_branch", "codeowners"])
      .where("integration_id", "=", integrationId)
      .where("accessible", "=", 1)
      .where("archived", "=", 0)
      .orderBy("id")
      .execute();
    const counts = { read: 0, unchanged: 0, none: 0, skipped: 0 };
    for (const [index, repo] of repos.entries()) {
      try {
        const files = scm.files(connection, ctx, { fullName: repo.full_name, defaultBranch: repo.default_branch });
        const listed = new Map((await files.list()).map((f) => [f.path, f]));
        const path = candidates.find((p) => listed.has(p));
        let value: string | null = null;
        if (path) {
          const file = listed.get(path)!;
          const previous = repo.codeowners ? (JSON.parse(repo.codeowners) as Codeowners) : null;
          if (previous && file.sha && previous.path === path && previous.sha === file.sha) {
            counts.unchanged++;
            continue;
          }
          if (file.size !== null && file.size > MAX_BYTES) {
            value = JSON.stringify({ path, sha: file.sha, rules: [], problems: [`${path} is larger than 3 MB and was not read.`] } satisfies Codeowners);
          } else {
            value = JSON.stringify(parseCodeowners(await files.read(path, MAX_BYTES), path, file.sha));
          }
          counts.read++;
        } else counts.none++;
        if (value !== repo.codeowners) await saveCodeowners(db, repo.id, value);
      } catch (err) {
        // Credentials that stopped working end the job (its failure is reported); one
        // repository Patchbay may no longer read is skipped.
        if (err instanceof ExternalError && (err.kind === "auth" || err.kind === "rate_limited" || err.kind === "unreachable")) throw err;
        counts.skipped++;
        logger.warn("CODEOWNERS not read", { repository: repo.full_name, error: err instanceof Error ? err.message : String(err) });
      }
      if (index % 10 === 9) await progress({ done: index + 1, total: repos.length, message: "reading CODEOWNERS" });
    }
    logger.info("CODEOWNERS read", { integrationId, ...counts });
  };
}
