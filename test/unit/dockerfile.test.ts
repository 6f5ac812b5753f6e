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
    const build = fs.readFileSync(path.join(ROOT, "build.mjs"), "utf8");
    // The server, and the scan thread it starts from beside it (dist/scan-thread.js: the image copies dist/ whole).
    expect(build).toContain('entryPoints: { server: path.join(root, "src/server.ts"), "scan-thread": path.join(root, "src/scan-thread.ts") }');
    expect(stages.at(-1)).toContain("COPY --from=build /app/dist ./dist");
    expect(build).toContain('outdir: path.join(root, "dist")');
    const final = stages.at(-1)!;
    expect(final).toMatch(/^CMD \["node", "dist\/server.js"\]$/m);
    expect(final).toMatch(/^USER node$/m);
    expect(final).toMatch(/HEALTHCHECK[\s\S]*\/healthz/);
    expect(final).toContain("PATCHBAY_DATA_DIR=/data");
    expect(final).not.toMatch(/g\+\+|python3|npm ci/);
    expect(stages[0]).toMatch(/node build\.mjs runtime \/runtime/);
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

  it("leaves only the native modules outside the bundle, and copies only them (build.mjs runtime) into the image", () => {
    const build = fs.readFileSync(path.join(ROOT, "build.mjs"), "utf8");
    const external = JSON.parse(/const external = (\[[^\]]*\]);/.exec(build)![1]!) as string[];
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(external).toEqual(["better-sqlite3", "@node-rs/argon2"]);
    for (const name of external) expect(Object.keys(pkg.dependencies), name).toContain(name);
    expect(stages.at(-1)!).toMatch(/^COPY --from=build \/runtime\/node_modules \.\/node_modules$/m);
    expect(stages.at(-1)!).not.toMatch(/\/app\/node_modules/);
  });
});

describe("the README's compose.yaml", () => {
  it("parses, and sets only variables Patchbay reads, secrets by file", async () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const blocks = [...readme.matchAll(/With Docker Compose[\s\S]*?```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    // One for a single box, one with PostgreSQL and replicas ("When one box is not enough").
    expect(blocks).toHaveLength(2);
    for (const block of blocks) await checkCompose(block);
  });
});

async function checkCompose(block: string): Promise<void> {
  const { parse } = await import("yaml");
  const compose = parse(block) as {
    services: Record<string, { environment?: Record<string, string>; secrets?: string[] }> & {
      patchbay: { environment: Record<string, string>; secrets?: string[] };
    };
    secrets: Record<string, unknown>;
  };
  const config = fs.readFileSync(path.join(ROOT, "src/config.ts"), "utf8");
  const { SECRET_VARIABLES } = await import("../../src/config.js");
  for (const name of Object.keys(compose.services.patchbay.environment)) {
    const base = name.replace(/_FILE$/, "");
    if (name.endsWith("_FILE")) expect(SECRET_VARIABLES as readonly string[], name).toContain(base);
    else expect(config, name).toContain(name);
  }
  // Commented-out single sign-on lines name real variables too.
  for (const [, name] of block.matchAll(/# (PATCHBAY_\w+):/g))
    expect(config.includes(name!) || (SECRET_VARIABLES as readonly string[]).includes(name!.replace(/_FILE$/, "")), name).toBe(true);
  // Every secret a service names is declared.
  for (const service of Object.values(compose.services)) for (const secret of service.secrets ?? []) expect(Object.keys(compose.secrets)).toContain(secret);
}
