// The fixers that write a fix pull request's change: only the characters of the version move,
// everything else in the file (formatting, comments, other dependencies) stays as it was, and
// what cannot be changed correctly without a person is refused with the reason.
import { describe, expect, it } from "vitest";
import { raiseMaven } from "../../src/remediation/fixers/maven.js";
import { raiseRequirement } from "../../src/remediation/fixers/requirements.js";
import { isRegistrySpec } from "../../src/remediation/fixers/npm.js";
import { JsonTextError, addMember, member, scanJson, splice } from "../../src/remediation/fixers/json-text.js";
import { unifiedDiff } from "../../src/remediation/proposals.js";
import { hashGoMod, hashModuleZip, ModuleArchiveError } from "../../src/remediation/fixers/go-hash.js";
import { parseGoMod } from "../../src/remediation/fixers/go.js";
import { zipSync } from "fflate";
import { finalBaseImage, higherTagOfLine, parseImageReference } from "../../src/remediation/fixers/dockerfile.js";
import { parseManifest } from "../../src/vuln/manifests.js";

const POM = `<?xml version="1.0" encoding="UTF-8"?>
<!-- Payments API: keep versions in properties where a family shares one. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
    <modelVersion>4.0.0</modelVersion>
    <groupId>com.acme</groupId>
    <artifactId>payments-api</artifactId>
    <version>1.4.0</version>

    <properties>
        <jackson.version>2.13.0</jackson.version> <!-- databind and core move together -->
        <java.version>17</java.version>
    </properties>

    <dependencies>
        <dependency>
            <groupId>org.apache.logging.log4j</groupId>
            <artifactId>log4j-core</artifactId>
            <version>2.14.1</version>
        </dependency>
        <dependency>
            <groupId>com.fasterxml.jackson.core</groupId>
            <artifactId>jackson-databind</artifactId>
            <version>\${jackson.version}</version>
        </dependency>
        <dependency>
            <groupId>com.fasterxml.jackson.core</groupId>
            <artifactId>jackson-core</artifactId>
            <version>\${jackson.version}</version>
        </dependency>
        <dependency>
            <groupId>org.springframework</groupId>
            <artifactId>spring-web</artifactId>
            <version>[5.3,6.0)</version>
        </dependency>
        <dependency>
            <groupId>org.slf4j</groupId>
            <artifactId>slf4j-api</artifactId>
            <version>\${slf4j.version}</version>
        </dependency>
    </dependencies>
</project>
`;

/** The lines that differ, as "-old" and "+new". */
function changedLines(before: string, after: string): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  const out: string[] = [];
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  let j = 0;
  while (j < a.length - i && j < b.length - i && a[a.length - 1 - j] === b[b.length - 1 - j]) j++;
  for (const line of a.slice(i, a.length - j)) out.push(`-${line}`);
  for (const line of b.slice(i, b.length - j)) out.push(`+${line}`);
  return out;
}

describe("Maven pom.xml", () => {
  it("raises a literal version on the dependency, and nothing else", () => {
    const fix = raiseMaven("pom.xml", POM, "org.apache.logging.log4j:log4j-core", "2.17.1");
    expect(fix.ok).toBe(true);
    if (!fix.ok) return;
    expect(changedLines(POM, fix.changes[0]!.after)).toEqual(["-            <version>2.14.1</version>", "+            <version>2.17.1</version>"]);
    expect(parseManifest("pom.xml", fix.changes[0]!.after).find((d) => d.name === "org.apache.logging.log4j:log4j-core")?.version).toBe("2.17.1");
  });

  it("raises the property a version names, its comment kept, and says which other dependencies share it", () => {
    const fix = raiseMaven("pom.xml", POM, "com.fasterxml.jackson.core:jackson-databind", "2.13.4.2");
    expect(fix.ok).toBe(true);
    if (!fix.ok) return;
    expect(changedLines(POM, fix.changes[0]!.after)).toEqual([
      "-        <jackson.version>2.13.0</jackson.version> <!-- databind and core move together -->",
      "+        <jackson.version>2.13.4.2</jackson.version> <!-- databind and core move together -->",
    ]);
    expect(fix.how).toContain("the property jackson.version (used 2 times in pom.xml)");
  });

  it("pins a transitive dependency with a new dependencyManagement entry, indented as the file is", () => {
    const fix = raiseMaven("pom.xml", POM, "org.yaml:snakeyaml", "2.0");
    expect(fix.ok).toBe(true);
    if (!fix.ok) return;
    expect(changedLines(POM, fix.changes[0]!.after)).toEqual([
      "+    <dependencyManagement>",
      "+        <dependencies>",
      "+            <dependency>",
      "+                <groupId>org.yaml</groupId>",
      "+                <artifactId>snakeyaml</artifactId>",
      "+                <version>2.0</version>",
      "+            </dependency>",
      "+        </dependencies>",
      "+    </dependencyManagement>",
    ]);
    // Still a POM whose declared dependencies read as before.
    expect(parseManifest("pom.xml", fix.changes[0]!.after).map((d) => d.name)).toEqual(parseManifest("pom.xml", POM).map((d) => d.name));
    // Pinned again later: the entry is raised, not added twice.
    const again = raiseMaven("pom.xml", fix.changes[0]!.after, "org.yaml:snakeyaml", "2.2");
    expect(again.ok && changedLines(fix.changes[0]!.after, again.changes[0]!.after)).toEqual([
      "-                <version>2.0</version>",
      "+                <version>2.2</version>",
    ]);
  });

  it("refuses what it cannot change correctly, saying why", () => {
    const reason = (name: string, to: string, text = POM) => {
      const fix = raiseMaven("pom.xml", text, name, to);
      return fix.ok ? "changed" : fix.reason;
    };
    expect(reason("org.springframework:spring-web", "5.3.33")).toContain("gives a version range ([5.3,6.0)); ranges are left to people");
    expect(reason("org.slf4j:slf4j-api", "2.0.9")).toContain("takes its version from ${slf4j.version}, which this file does not define");
    expect(reason("org.apache.logging.log4j:log4j-core", "2.17.1</version><evil>")).toContain("is not a plain Maven version");
    expect(reason("org.apache.logging.log4j:log4j-core", "2.14.1")).toContain("already at 2.14.1");
    expect(reason("log4j-core", "2.17.1")).toContain("is not a Maven group:artifact");
    expect(reason("a:b", "1.0", "<project><dependencies>")).toContain("is not well-formed XML");
    expect(reason("a:b", "1.0", "<pom/>")).toContain("has no <project> element");
    const managedByParent = POM.replace("<version>2.14.1</version>", "");
    expect(reason("org.apache.logging.log4j:log4j-core", "2.17.1", managedByParent)).toContain("takes its version from a parent POM or an imported BOM");
  });

  it("reads a hostile file in linear time and refuses absurd nesting", () => {
    const deep = `<project>${"<a>".repeat(5000)}${"</a>".repeat(5000)}</project>`;
    const fix = raiseMaven("pom.xml", deep, "a:b", "1.0");
    expect(fix.ok ? "changed" : fix.reason).toContain("nested deeper than 64 levels");
  });
});

const REQUIREMENTS = `# This file is autogenerated by pip-compile with Python 3.12
#    pip-compile --generate-hashes requirements.in
#
certifi==2023.7.22 \\
    --hash=sha256:539cc1d13202e33ca466e88b2807e29f4c13049d6d87031a3c110744495cb082 \\
    --hash=sha256:92d6037539857d8206b8f6ae472e8b77db8058fec5937a1ef3f54304089edbb9
    # via requests
Requests[socks]==2.25.1 ; python_version >= "3.8" \\
    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111
    # via -r requirements.in
urllib3==1.26.4
`;

const DIGESTS: Record<string, string[]> = {
  "certifi 2023.7.22": ["539cc1d13202e33ca466e88b2807e29f4c13049d6d87031a3c110744495cb082", "92d6037539857d8206b8f6ae472e8b77db8058fec5937a1ef3f54304089edbb9"],
  "requests 2.31.0": ["58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f", "942c5a758f98d790eaed1a29cb6eefc7ffb0d1cf7af05c3d2791656dbd6ad1e1"],
};
const index = async (name: string, version: string) => {
  const found = DIGESTS[`${name.toLowerCase()} ${version}`];
  if (!found) throw new Error(`no files of ${name} ${version}`);
  return found;
};

describe("PyPI requirements", () => {
  it("raises an exact pin and writes the new version's digests in place of the old, one option per line as the file does", async () => {
    const fix = await raiseRequirement("requirements.txt", REQUIREMENTS, "requests", "2.31.0", index);
    expect(fix.ok).toBe(true);
    if (!fix.ok) return;
    expect(changedLines(REQUIREMENTS, fix.changes[0]!.after)).toEqual([
      '-Requests[socks]==2.25.1 ; python_version >= "3.8" \\',
      "-    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111",
      '+Requests[socks]==2.31.0 ; python_version >= "3.8" \\',
      "+    --hash=sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f \\",
      "+    --hash=sha256:942c5a758f98d790eaed1a29cb6eefc7ffb0d1cf7af05c3d2791656dbd6ad1e1",
    ]);
    expect(fix.how).toContain("its --hash lines the index's digests of that version");
    expect(parseManifest("requirements.txt", fix.changes[0]!.after).find((d) => d.name === "requests")?.version).toBe("2.31.0");
  });

  it("raises a pin without hashes on its own line only", async () => {
    const fix = await raiseRequirement("requirements.txt", REQUIREMENTS, "urllib3", "1.26.18", index);
    expect(fix.ok && changedLines(REQUIREMENTS, fix.changes[0]!.after)).toEqual(["-urllib3==1.26.4", "+urllib3==1.26.18"]);
  });

  it("leaves ranges, URLs, editable installs and unknown digests to people, saying why", async () => {
    const reason = async (text: string, name = "requests", to = "2.31.0") => {
      const fix = await raiseRequirement("requirements.txt", text, name, to, index).catch((err: Error) => ({ ok: false as const, reason: err.message }));
      return fix.ok ? "changed" : fix.reason;
    };
    expect(await reason("requests>=2.20\n")).toContain("does not pin requests with == (>=2.20): ranges are left to people");
    expect(await reason("requests @ https://example.com/requests-2.25.1.tar.gz\n")).toContain("installs requests from a URL");
    expect(await reason("-e git+https://github.com/psf/requests.git#egg=requests\n")).toContain("installs requests in editable mode");
    expect(await reason("-e ./requests-extra\nrequests==2.25.1\n")).toBe("changed");
    expect(await reason("requests==2.25.1 --hash=sha256:00\n", "requests", "2.32.0")).toContain("no files of requests 2.32.0");
    expect(await reason("flask==2.0.0\n")).toContain("requests is not pinned in requirements.txt");
    expect(await reason("requests==2.25.1\n", "requests", "2.31.0\n--index-url http://evil")).toContain("is not a plain Python version");
  });
});

describe("package.json as text", () => {
  const MANIFEST = '{\n\t"name": "web",\n\t"dependencies": {\n\t\t"qs": "^6.5.2",\n\t\t"a\\"b": "1.0.0"\n\t}\n}\n';

  it("finds a value's place, so one change keeps every other character", () => {
    const root = scanJson(MANIFEST);
    const qs = member(member(root, "dependencies"), "qs")!;
    expect(MANIFEST.slice(qs.start, qs.end)).toBe('"^6.5.2"');
    expect(member(member(root, "dependencies"), 'a"b')?.value).toBe("1.0.0");
    expect(splice(MANIFEST, qs.start, qs.end, '"^6.5.3"')).toBe(MANIFEST.replace("^6.5.2", "^6.5.3"));
  });

  it("adds a member indented as the file's others are, tabs or spaces, and to an empty object", () => {
    const root = scanJson(MANIFEST);
    expect(addMember(MANIFEST, root, "overrides", "{}")).toBe(MANIFEST.replace("\t}\n}\n", '\t},\n\t"overrides": {}\n}\n'));
    const spaces = '{\n  "name": "web",\n  "overrides": {}\n}\n';
    expect(addMember(spaces, member(scanJson(spaces), "overrides")!, "x@1.0.0", '"1.0.1"')).toBe(
      '{\n  "name": "web",\n  "overrides": {\n    "x@1.0.0": "1.0.1"\n  }\n}\n',
    );
  });

  it("refuses what is not JSON, and nesting deep enough to exhaust the stack, in linear time", () => {
    for (const bad of ['{"a": 1,}', '{"a" 1}', '{"a": "unterminated}', "{} trailing", "[".repeat(100_000)])
      expect(() => scanJson(bad), bad.slice(0, 20)).toThrow(JsonTextError);
    const wide = `{${Array.from({ length: 200_000 }, (_, i) => `"k${i}": "v"`).join(",")}}`;
    const started = performance.now();
    expect(scanJson(wide).members).toHaveLength(200_000);
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe("npm specs Patchbay lets npm resolve", () => {
  it("takes registry ranges, tags and npm: aliases, and nothing that reaches elsewhere", () => {
    for (const ok of ["^1.2.3", "~1.2", "1.x", ">=1.0.0 <2", "1.2.3 || 2.0.0", "latest", "next", "*", "", "npm:lodash@^4.17.21", "npm:@acme/ui@1.0.0"])
      expect(isRegistrySpec(ok), ok).toBe(true);
    for (const bad of [
      "git+https://evil.example/x.git",
      "git://evil.example/x",
      "github:evil/x",
      "evil/x",
      "evil/x#main",
      "https://evil.example/x.tgz",
      "file:../x",
      "link:../x",
      "workspace:*",
      "../x",
      "npm:evil/x@1.0.0",
      "npm:lodash@file:../x",
      "1.0.0\n//evil.example/:_authToken=x",
    ])
      expect(isRegistrySpec(bad), bad).toBe(false);
  });
});

describe("the diff a proposal shows", () => {
  it("shows changes far apart as separate hunks, with nothing unchanged shown as removed", () => {
    const before = Array.from({ length: 200 }, (_, i) => `line ${i}`).join("\n") + "\n";
    const after = before.replace("line 10\n", "line ten\n").replace("line 150\n", "line 150\nline 150.5\n");
    const diff = unifiedDiff({ path: "package-lock.json", before, after });
    expect(diff.split("\n").filter((l) => l.startsWith("@@"))).toEqual(["@@ -8,7 +8,7 @@", "@@ -149,6 +149,7 @@"]);
    expect(diff.split("\n").filter((l) => l.startsWith("-") && !l.startsWith("---"))).toEqual(["-line 10"]);
    expect(diff.split("\n").filter((l) => l.startsWith("+") && !l.startsWith("+++"))).toEqual(["+line ten", "+line 150.5"]);
  });
});

describe("go.sum hashes", () => {
  it("hash a go.mod as the published go.sum lines do", () => {
    // golang.org/x/text v0.3.0/go.mod (no go.mod in that version: the proxy's synthesised one) and v0.3.7/go.mod, from public go.sum files.
    expect(hashGoMod("module golang.org/x/text\n")).toBe("h1:NqM8EUOU14njkJ3fqMW+pc6Ldnwhi/IjpwHt7yyuwOQ=");
    expect(hashGoMod("module golang.org/x/text\n\nrequire golang.org/x/tools v0.0.0-20180917221912-90fa682c2a6e\n\ngo 1.17\n")).toBe(
      "h1:u+2+/6zg+i71rQMx5EYifcz6MCKuco9NR6JIITiCfzQ=",
    );
  });

  it("hash an archive's files in byte order whatever order the archive holds them, and refuse a file outside the module's folder", () => {
    const a = zipSync({
      "m.example/x@v1.0.0/go.mod": new TextEncoder().encode("module m.example/x\n"),
      "m.example/x@v1.0.0/a.go": new TextEncoder().encode("package x\n"),
    });
    const b = zipSync({
      "m.example/x@v1.0.0/a.go": new TextEncoder().encode("package x\n"),
      "m.example/x@v1.0.0/go.mod": new TextEncoder().encode("module m.example/x\n"),
    });
    expect(hashModuleZip(a, "m.example/x", "v1.0.0")).toBe(hashModuleZip(b, "m.example/x", "v1.0.0"));
    expect(hashModuleZip(a, "m.example/x", "v1.0.0")).toMatch(/^h1:[A-Za-z0-9+/]{43}=$/);
    const evil = zipSync({ "m.example/x@v1.0.0/go.mod": new Uint8Array(1), "../../etc/passwd": new Uint8Array(1) });
    expect(() => hashModuleZip(evil, "m.example/x", "v1.0.0")).toThrow(ModuleArchiveError);
    expect(() => hashModuleZip(new Uint8Array([1, 2, 3]), "m.example/x", "v1.0.0")).toThrow(ModuleArchiveError);
  });

  it("read go.mod's requirements from blocks and single lines, quoted paths and indirect marks", () => {
    const mod = parseGoMod(
      'module example.com/a // the service\n\ngo 1.21\n\nrequire (\n\texample.com/b v1.2.3\n\t"example.com/c" v0.1.0 // indirect\n)\nrequire example.com/d v2.0.0+incompatible\n',
    );
    expect(mod.module).toBe("example.com/a");
    expect(mod.go).toBe("1.21");
    expect(mod.requires.map((r) => [r.path, r.version, r.indirect])).toEqual([
      ["example.com/b", "v1.2.3", false],
      ["example.com/c", "v0.1.0", true],
      ["example.com/d", "v2.0.0+incompatible", false],
    ]);
  });
});

describe("Dockerfile base images", () => {
  it("read references as Docker resolves them", () => {
    expect(parseImageReference("node:20-alpine")).toEqual({ repository: "docker.io/library/node", tag: "20-alpine", digest: undefined });
    expect(parseImageReference("bitnami/redis:7.2")?.repository).toBe("docker.io/bitnami/redis");
    expect(parseImageReference("index.docker.io/library/node:20")?.repository).toBe("docker.io/library/node");
    expect(parseImageReference("localhost:5000/app:1")?.repository).toBe("localhost:5000/app");
    expect(parseImageReference(`ghcr.io/acme/base:1.2.3@sha256:${"a".repeat(64)}`)).toEqual({
      repository: "ghcr.io/acme/base",
      tag: "1.2.3",
      digest: `sha256:${"a".repeat(64)}`,
    });
    expect(parseImageReference("node:$VERSION")).toBeUndefined();
  });

  it("move along a line only: same variant, same major, same precision, higher", () => {
    expect(higherTagOfLine("20.11.1-alpine3.19", "20.13.1-alpine3.19")).toBe(true);
    expect(higherTagOfLine("20.11.1-alpine3.19", "20.11.0-alpine3.19")).toBe(false);
    expect(higherTagOfLine("20.11.1-alpine3.19", "21.0.0-alpine3.19")).toBe(false);
    expect(higherTagOfLine("20.11.1-alpine3.19", "20.12.0-alpine3.20")).toBe(false);
    expect(higherTagOfLine("20.11.1-alpine3.19", "20.12-alpine3.19")).toBe(false);
    expect(higherTagOfLine("3.12-slim", "3.13-slim")).toBe(true);
    expect(higherTagOfLine("v1.2.3", "1.2.4")).toBe(false);
    expect(higherTagOfLine("latest", "20")).toBe(false);
  });

  it("take the final stage's base, and refuse what it cannot move", () => {
    const base = finalBaseImage(
      "Dockerfile",
      "FROM golang:1.22 AS build\nRUN go build\nFROM --platform=linux/amd64 gcr.io/distroless/static:nonroot-amd64 AS run\n",
    );
    expect("reason" in base ? base.reason : base.text).toBe("gcr.io/distroless/static:nonroot-amd64");
    const reason = (text: string) => {
      const r = finalBaseImage("Dockerfile", text);
      return "reason" in r ? r.reason : "";
    };
    expect(reason("ARG V=20\nFROM node:${V}\n")).toContain("set by a build argument");
    expect(reason("FROM node:20 AS build\nFROM build\n")).toContain("builds on an earlier stage");
    expect(reason("FROM node\n")).toContain("names no tag");
    expect(reason("RUN true\n")).toContain("has no FROM instruction");
  });
});
