// No Docker engine runs here, so check what can be checked: every file the Dockerfile
// copies from the context exists, its CMD runs the bundle build.mjs writes, it ends as a
// non-root user, and its health check probes /healthz.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../process.js";

const dockerfile = fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
const stages = dockerfile.split(/^FROM /m).slice(1);

describe("Dockerfile", () => {
  it("copies only paths that exist in the build context", () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(4);
    for (const source of sources) expect(fs.existsSync(path.join(ROOT, source)), source).toBe(true);
    const ignored = fs
      .readFileSync(path.join(ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim());
    for (const source of sources) expect(ignored, source).not.toContain(source);
  });

  it("runs the bundle build.mjs writes, as a non-root user, with a /healthz check and no compilers", () => {
    expect(fs.readFileSync(path.join(ROOT, "build.mjs"), "utf8")).toContain('outfile: path.join(root, "dist/server.js")');
    const final = stages.at(-1)!;
    expect(final).toMatch(/^CMD \["node", "dist\/server.js"\]$/m);
    expect(final).toMatch(/^USER node$/m);
    expect(final).toMatch(/HEALTHCHECK[\s\S]*\/healthz/);
    expect(final).toContain("PATCHBAY_DATA_DIR=/data");
    expect(final).not.toMatch(/g\+\+|python3|npm ci/);
    expect(stages[0]).toMatch(/npm prune --omit=dev/);
  });

  it("builds and runs on a Node.js line that still receives security fixes, the same in both stages", () => {
    // Node's release schedule: 20 ended in April 2026, 22 in April 2027, 24 in April 2028.
    const END_OF_LIFE: Record<number, string> = { 20: "2026-04-30", 22: "2027-04-30", 24: "2028-04-30" };
    const majors = stages.map((stage) => Number(/^node:(\d+)/.exec(stage)![1]));
    expect(new Set(majors).size).toBe(1);
    const end = END_OF_LIFE[majors[0]!];
    expect(end, `node:${majors[0]} is not a known LTS line`).toBeDefined();
    // Still receiving fixes on the day this test runs.
    expect(Date.parse(end!)).toBeGreaterThan(Date.now());
  });

  it("ships every module the bundle leaves outside it: each is a production dependency, kept by the prune and copied into the image", () => {
    const build = fs.readFileSync(path.join(ROOT, "build.mjs"), "utf8");
    const external = JSON.parse(/const external = (\[[^\]]*\]);/.exec(build)![1]!) as string[];
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(external.length).toBeGreaterThan(3);
    for (const name of external) expect(Object.keys(pkg.dependencies), name).toContain(name);
    expect(stages.at(-1)!).toMatch(/^COPY --from=build \/app\/node_modules \.\/node_modules$/m);
  });
});
