// Go module fixes, checked by the Go toolchain itself (Debian's golang-go pointed at the module
// proxy simulator): the raised go.mod and the completed go.sum build with -mod=readonly (no
// missing go.sum entry), every hash Patchbay wrote is the one `go mod download -json` computes,
// minimal version selection raises what the new version requires; what cannot be done completely
// gets no pull request.
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, runJobs, setUpAdmin, tempDir, testApp, text, uploadReport, uploadToken } from "../helpers.js";
import { GitHubSim } from "../sim/github.js";
import { GoProxySim } from "../sim/packages.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { trivyFilesystemReport } from "../bench/reports.js";

const run = promisify(execFile);
const GITHUB_TOKEN = "github_pat_go_fixes_0001";
const GO_MOD = `module example.com/acme/payments

go 1.17

require (
\texample.com/lib/vuln v1.0.0
\texample.com/lib/app v1.0.0
)

require example.com/lib/helper v1.1.0 // indirect
`;
const MAIN = `package main

import (
\t"example.com/lib/app"
\t"example.com/lib/vuln"
)

func main() { println(vuln.Name(), app.Name()) }
`;

let proxy: GoProxySim;
let proxyServer: RunningSim;
let goSum: string;
const goHome = tempDir("patchbay-go-");

/** The go command in a folder of its own, against the simulator, with no checksum database. */
async function go(dir: string, args: string[], flags = "-mod=mod"): Promise<string> {
  const { stdout } = await run("go", args, {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      HOME: goHome,
      GOPATH: path.join(goHome, "gopath"),
      GOMODCACHE: path.join(goHome, "gopath", "pkg", "mod"),
      GOCACHE: path.join(goHome, "cache"),
      GOPROXY: proxyServer.url,
      GOSUMDB: "off",
      GOFLAGS: flags,
      GOTOOLCHAIN: "local",
      CGO_ENABLED: "0",
    },
    timeout: 120_000,
  });
  return stdout;
}

function module(files: Record<string, string>): string {
  const dir = tempDir("patchbay-gomod-");
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  return dir;
}

beforeAll(async () => {
  proxy = new GoProxySim();
  proxy.publish("example.com/lib/vuln", "v1.0.0", {
    "go.mod": "module example.com/lib/vuln\n\ngo 1.17\n",
    "vuln.go": 'package vuln\n\nfunc Name() string { return "vuln 1.0.0" }\n',
  });
  proxy.publish("example.com/lib/helper", "v1.1.0", {
    "go.mod": "module example.com/lib/helper\n\ngo 1.17\n",
    "helper.go": "package helper\n\nconst Version = 110\n",
  });
  proxy.publish("example.com/lib/app", "v1.0.0", {
    "go.mod": "module example.com/lib/app\n\ngo 1.17\n\nrequire example.com/lib/helper v1.1.0\n",
    "app.go": 'package app\n\nimport "example.com/lib/helper"\n\nfunc Name() string { return "app" + string(rune(helper.Version)) }\n',
  });
  proxyServer = await startSim(proxy.app());
  // The repository's go.sum, as the go command wrote it before the fix was published.
  const dir = module({ "go.mod": GO_MOD, "main.go": MAIN });
  await go(dir, ["mod", "tidy"]);
  goSum = fs.readFileSync(path.join(dir, "go.sum"), "utf8");
  expect(goSum).toContain("example.com/lib/vuln v1.0.0 h1:");
  // The fix: vuln v1.0.1 needs a newer helper (minimal version selection raises it too).
  proxy.publish("example.com/lib/vuln", "v1.0.1", {
    "go.mod": "module example.com/lib/vuln\n\ngo 1.17\n\nrequire example.com/lib/helper v1.2.0\n",
    "vuln.go": 'package vuln\n\nimport _ "example.com/lib/helper"\n\nfunc Name() string { return "vuln 1.0.1" }\n',
  });
  proxy.publish("example.com/lib/helper", "v1.2.0", {
    "go.mod": "module example.com/lib/helper\n\ngo 1.17\n",
    "helper.go": "package helper\n\nconst Version = 120\n",
  });
}, 180_000);
afterAll(async () => {
  await proxyServer.close();
  await run("chmod", ["-R", "u+w", goHome]).catch(() => undefined);
  fs.rmSync(goHome, { recursive: true, force: true });
});

let github: GitHubSim;
let server: RunningSim;
let app: TestApp;
let admin: Browser;

beforeEach(async () => {
  github = new GitHubSim();
  github.addToken(GITHUB_TOKEN);
  github.repos.push({ id: 904, full_name: "acme/payments", private: true, visibility: "private", archived: false, default_branch: "main" });
  github.files.set("acme/payments", { "go.mod": GO_MOD, "go.sum": goSum, "main.go": MAIN });
  server = await startSim(github.app());
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `https://api.github.com=${server.url},https://proxy.golang.org=${proxyServer.url}` } });
  admin = await setUpAdmin(app);
  expect((await admin.post("/integrations/github", { githubUrl: "https://github.com", token: GITHUB_TOKEN })).status).toBe(303);
  await runJobs(app);
  const token = await uploadToken(admin);
  await uploadReport(
    app,
    token,
    "acme/payments",
    trivyFilesystemReport([
      { id: "GO-2026-0001", pkg: "example.com/lib/vuln", installed: "v1.0.0", fixed: "v1.0.1", severity: "HIGH", target: "go.mod", type: "gomod" },
    ]),
  );
});
afterEach(async () => {
  await app.close();
  await server.close();
});

const db = () => app.runtime.database.db;
const findingId = async () => (await db().selectFrom("findings").select("id").executeTakeFirstOrThrow()).id;

describe("Go module fixes", () => {
  it("raise the requirement and what minimal version selection raises with it, and complete go.sum as the go command does", async () => {
    const id = await findingId();
    const page = text(await (await admin.get(`/vulnerabilities/${id}/fix`)).text());
    expect(page).toContain("Bump example.com/lib/vuln from v1.0.0 to v1.0.1");
    expect(page).toContain("minimal version selection also raises example.com/lib/helper to v1.2.0");
    expect((await admin.post(`/vulnerabilities/${id}/fix`, { path: "go.mod" })).status).toBe(303);
    await runJobs(app);
    expect(github.pulls).toHaveLength(1);
    const files = github.branchFiles("acme/payments", github.pulls[0]!.head)!;
    expect(files["go.mod"]).toBe(
      GO_MOD.replace("example.com/lib/vuln v1.0.0", "example.com/lib/vuln v1.0.1").replace("helper v1.1.0 // indirect", "helper v1.2.0 // indirect"),
    );

    // The go command builds the fixed module without touching go.mod or go.sum: nothing is missing…
    const dir = module({ "go.mod": files["go.mod"]!, "go.sum": files["go.sum"]!, "main.go": MAIN });
    await go(dir, ["build", "-o", path.join(dir, "payments"), "."], "-mod=readonly");
    await go(dir, ["mod", "verify"], "-mod=readonly");
    expect(fs.readFileSync(path.join(dir, "go.sum"), "utf8")).toBe(files["go.sum"]);
    // …and every line Patchbay added is the hash the go command computes.
    const added = files["go.sum"]!.split("\n").filter((l) => l && !goSum.includes(l));
    expect(added.length).toBeGreaterThanOrEqual(4);
    for (const version of ["example.com/lib/vuln@v1.0.1", "example.com/lib/helper@v1.2.0"]) {
      const info = JSON.parse(await go(dir, ["mod", "download", "-json", version])) as { Sum: string; GoModSum: string; Path: string; Version: string };
      expect(added).toContain(`${info.Path} ${info.Version} ${info.Sum}`);
      expect(added).toContain(`${info.Path} ${info.Version}/go.mod ${info.GoModSum}`);
    }
    // The lines keep go.sum's order (by module, then version).
    const lines = files["go.sum"]!.trim().split("\n");
    expect(lines.indexOf(lines.find((l) => l.startsWith("example.com/lib/vuln v1.0.1 "))!)).toBe(
      lines.findIndex((l) => l.startsWith("example.com/lib/vuln v1.0.0/go.mod")) + 1,
    );
  });

  it("makes no fix a go command would need to finish: replace directives, vendored modules, a version the proxy lacks", async () => {
    const id = await findingId();
    const reason = async () => text(await (await admin.get(`/vulnerabilities/${id}/fix`)).text());
    github.files.set("acme/payments", { "go.mod": GO_MOD + "\nreplace example.com/lib/app => ../app\n", "go.sum": goSum });
    expect(await reason()).toContain("go.mod has replace directives");
    github.files.set("acme/payments", { "go.mod": GO_MOD, "go.sum": goSum, "vendor/modules.txt": "# example.com/lib/vuln v1.0.0\n" });
    expect(await reason()).toContain("vendor/modules.txt: the module vendors its dependencies");
    github.files.set("acme/payments", { "go.mod": GO_MOD, "go.sum": goSum });
    proxy.versions.delete("example.com/lib/helper@v1.2.0");
    try {
      const said = await reason();
      expect(said).toContain("The proxy has no go.mod for example.com/lib/helper@v1.2.0");
      expect(said).not.toContain("Open pull request");
    } finally {
      proxy.publish("example.com/lib/helper", "v1.2.0", {
        "go.mod": "module example.com/lib/helper\n\ngo 1.17\n",
        "helper.go": "package helper\n\nconst Version = 120\n",
      });
    }
    expect(github.pulls).toEqual([]);
  });
});
