import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase, type OpenDatabase } from "../../src/db/database.js";
import { loadRepositoryIndex, repositoryUrlKey } from "../../src/findings/repositories.js";
import { addRepository } from "../../src/scm/store.js";
import { tempDir } from "../helpers.js";

describe("repositoryUrlKey", () => {
  it("reduces every form of a repository URL to host/owner/name in lower case", () => {
    for (const url of [
      "https://github.com/Acme/Payments-API",
      "https://github.com/acme/payments-api.git",
      "http://GitHub.com/acme/payments-api/",
      "git@github.com:acme/payments-api.git",
      "ssh://git@github.com/acme/payments-api.git",
      "ssh://git@github.com:22/acme/payments-api",
      "github.com/acme/payments-api",
      "https://github.com/acme/payments-api/tree/main",
      "https://user@github.com/acme/payments-api.git",
    ]) {
      expect(repositoryUrlKey(url), url).toBe("github.com/acme/payments-api");
    }
    expect(repositoryUrlKey("https://gitlab.example.com/group/sub/project/-/merge_requests/4")).toBe("gitlab.example.com/group/sub/project");
    expect(repositoryUrlKey("git@gitlab.example.com:group/sub/project.git")).toBe("gitlab.example.com/group/sub/project");
    expect(repositoryUrlKey("https://bitbucket.org/team/repo/src/main/")).toBe("bitbucket.org/team/repo");
  });

  it("refuses what is not a repository URL", () => {
    for (const url of ["", "https://github.com/", "https://github.com/acme", "not a url at all"]) {
      expect(repositoryUrlKey(url), url).toBeUndefined();
    }
  });
});

describe("repository matching", () => {
  let database: OpenDatabase;
  afterEach(() => database.close());

  it("matches by URL key, then full name, then a unique bare name; never an inaccessible repository", async () => {
    database = await openDatabase(path.join(tempDir(), "p.db"));
    const db = database.db;
    const now = new Date();
    const gh = await addRepository(db, { integrationId: null, provider: "github", fullName: "acme/api", url: "https://github.com/acme/api" }, now);
    const ghes = await addRepository(db, { integrationId: null, provider: "github", fullName: "acme/api", url: "https://git.corp.example/acme/api" }, now);
    const web = await addRepository(db, { integrationId: null, provider: "gitlab", fullName: "acme/web", url: "https://gitlab.com/acme/web" }, now);
    const gone = await addRepository(db, { integrationId: null, provider: "github", fullName: "acme/old", url: "https://github.com/acme/old" }, now);
    await db.updateTable("repositories").set({ accessible: 0 }).where("id", "=", gone.id).execute();
    const index = await loadRepositoryIndex(db);

    expect(index.match({ name: "api", url: "git@github.com:ACME/api.git" })?.id).toBe(gh.id);
    expect(index.match({ name: "api", url: "https://git.corp.example/acme/api/tree/main" })?.id).toBe(ghes.id);
    expect(index.match({ name: "acme/api" })).toBeUndefined(); // two servers hold it: ambiguous
    expect(index.match({ name: "acme/web" })?.id).toBe(web.id);
    expect(index.match({ name: "web" })?.id).toBe(web.id);
    expect(index.match({ name: "gitlab.com/acme/web.git" })?.id).toBe(web.id);
    expect(index.match({ name: "acme/old", url: "https://github.com/acme/old" })).toBeUndefined();
    expect(index.match({ name: "acme/web", url: "https://github.com/acme/web" })).toBeUndefined();
    // Asked again (an import asks once a record), the same answers, each pair apart from the others.
    for (let round = 0; round < 2; round++) {
      expect(index.match({ name: "web" })?.id).toBe(web.id);
      expect(index.match({ name: "web", url: "https://github.com/acme/api" })?.id).toBe(gh.id);
      expect(index.match({ name: "acme/api" })).toBeUndefined();
      // A name or URL holding a NUL cannot make one pair look like another.
      expect(index.match({ name: "web", url: "\u0000" })?.id).toBe(web.id);
      expect(index.match({ name: "web\u0000" })).toBeUndefined();
    }
  });
});
