// Scans that read Patchbay's own repositories (the dependency monitor, Dependabot, GitLab
// findings): one scan page per repository, the cursor being its position in a stable order,
// so a scan interrupted on one repository resumes there.
import type { SyncPage, ScannerRecord, Workspace, WorkspaceRepository } from "./types.js";

export function repositoryPages(
  workspace: Workspace,
  keep: (repository: WorkspaceRepository) => boolean,
  scan: (repository: WorkspaceRepository) => Promise<ScannerRecord[]>,
): (cursor: string | null) => Promise<SyncPage> {
  let repositories: Promise<WorkspaceRepository[]> | undefined;
  return async (cursor) => {
    const list = await (repositories ??= workspace.repositories().then((all) => all.filter(keep)));
    const index = cursor ? Number(cursor) : 0;
    const repository = list[index];
    if (!repository) return { records: [], nextCursor: null, total: list.length };
    return { records: await scan(repository), nextCursor: index + 1 < list.length ? String(index + 1) : null, total: list.length };
  };
}
