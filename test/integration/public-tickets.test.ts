// Tickets that would publish a vulnerability: a mapping to a public GitHub repository, or to a
// public GitLab project with issues made not confidential, says so and needs a confirmation;
// GitLab issues are confidential unless the mapping chooses otherwise.
import { afterEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, setUpAdmin, testApp, text } from "../helpers.js";
import { GitHubSim } from "../sim/github.js";
import { GitLabSim } from "../sim/gitlab.js";
import { type RunningSim, startSim } from "../sim/serve.js";

let app: TestApp;
let server: RunningSim;
afterEach(async () => {
  await app?.close();
  await server?.close();
});

async function connected(originMap: string, kind: string, form: Record<string, string>): Promise<{ admin: Browser; id: number }> {
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: originMap } });
  const admin = await setUpAdmin(app);
  const res = await admin.post(`/integrations/${kind}`, form);
  expect(res.status, text(await res.clone().text())).toBe(303);
  return { admin, id: Number(new RegExp(`/integrations/${kind}/(\\d+)`).exec(res.headers.get("location")!)![1]) };
}

describe("public tickets", () => {
  it("GitHub Issues: a public repository is named as public, and saving needs the box ticked", async () => {
    const github = new GitHubSim();
    github.addToken("github_pat_public");
    github.repos.push({ id: 4101, full_name: "acme/website", private: false, visibility: "public", archived: false, default_branch: "main" });
    server = await startSim(github.app());
    const { admin, id } = await connected(`https://api.github.com=${server.url}`, "github-issues", {
      githubUrl: "https://github.com",
      token: "github_pat_public",
    });
    const form = {
      project: "acme/website",
      ticketType: "issue",
      "source.title": "patchbay",
      "value.title.patchbay": "title",
      "status.done": "closed:completed",
    };
    const shown = text(await (await admin.get(`/trackers/${id}/mappings/new?project=acme%2Fwebsite&ticketType=issue`)).text());
    expect(shown).toContain("acme/website is a public repository: anyone can read its issues");
    const refused = await admin.post(`/trackers/${id}/mappings`, form);
    expect(refused.status).toBe(422);
    expect(text(await refused.text())).toContain("tick the box to open public tickets anyway");
    expect(await app.runtime.database.db.selectFrom("tracker_mappings").select("id").execute()).toEqual([]);
    expect((await admin.post(`/trackers/${id}/mappings`, { ...form, confirmPublic: "on" })).status).toBe(303);
  });

  it("GitLab Issues: confidential by default; a public project's issues made public need the box ticked", async () => {
    const gitlab = new GitLabSim();
    gitlab.addToken("glpat-public");
    gitlab.addProjects("platform", 1);
    gitlab.projects[0]!.visibility = "public";
    server = await startSim(gitlab.app());
    const { admin, id } = await connected(`https://gitlab.com=${server.url}`, "gitlab-issues", { gitlabUrl: "https://gitlab.com", token: "glpat-public" });
    const form = { project: "2001", ticketType: "issue", "source.title": "patchbay", "value.title.patchbay": "title", "status.done": "closed" };
    // Confidential left to Patchbay: its issues are confidential, nothing to confirm.
    expect((await admin.post(`/trackers/${id}/mappings`, form)).status).toBe(303);
    const open = await admin.post(`/trackers/${id}/mappings`, {
      ...form,
      name: "Open issues",
      "source.confidential": "manual",
      "value.confidential.manual": "false",
    });
    expect(open.status).toBe(422);
    expect(text(await open.text())).toContain("platform/project-001 is a public project and this mapping makes issues not confidential");
  });
});
