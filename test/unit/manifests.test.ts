import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ManifestError, manifestFormat, parseManifest, withoutTrailingCommas } from "../../src/vuln/manifests.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/lockfiles/${name}`, import.meta.url), "utf8");
/** "name@version" per dependency, sorted, for one ecosystem check. */
const pins = (path: string, file: string) =>
  parseManifest(path, fixture(file))
    .map((d) => `${d.ecosystem}:${d.name}@${d.version}`)
    .sort();

describe("manifests and lockfiles", () => {
  it("recognises the files it reads and skips vendored copies", () => {
    expect(manifestFormat("package-lock.json")).toBe("package-lock.json");
    expect(manifestFormat("services/api/requirements-dev.txt")).toBe("requirements.txt");
    expect(manifestFormat("node_modules/foo/package-lock.json")).toBeUndefined();
    expect(manifestFormat("vendor/github.com/x/go.sum")).toBeUndefined();
    expect(manifestFormat("package.json")).toBeUndefined();
    expect(manifestFormat("docs/requirements.md")).toBeUndefined();
  });

  it("package-lock.json v3: nested installs kept apart, links and git sources left out", () => {
    expect(pins("package-lock.json", "package-lock.json")).toEqual([
      "npm:@babel/traverse@7.22.5",
      "npm:body-parser@1.19.0",
      "npm:express@4.17.1",
      "npm:lodash@4.17.20",
      "npm:qs@6.5.2",
      "npm:qs@6.7.0",
    ]);
  });

  it("package-lock.json v1: nested dependencies walked, file: versions left out", () => {
    expect(pins("admin/package-lock.json", "package-lock-v1.json")).toEqual(["npm:minimist@0.0.8", "npm:minimist@1.2.0", "npm:mkdirp@0.5.1"]);
  });

  it("yarn.lock classic and Berry: one version per entry, scoped names, workspaces and git left out", () => {
    expect(pins("yarn.lock", "yarn.lock")).toEqual(["npm:@babel/code-frame@7.22.5", "npm:axios@0.21.0", "npm:follow-redirects@1.13.0"]);
    expect(pins("web/yarn.lock", "yarn-berry.lock")).toEqual(["npm:json5@2.2.1", "npm:semver@7.5.1"]);
  });

  it("pnpm-lock.yaml v9, v6 and v5 keys, with peer suffixes removed", () => {
    expect(pins("pnpm-lock.yaml", "pnpm-lock.yaml")).toEqual(["npm:@remix-run/router@1.6.0", "npm:react-dom@18.2.0", "npm:react@18.2.0", "npm:ws@8.17.0"]);
    expect(pins("a/pnpm-lock.yaml", "pnpm-lock-v6.yaml")).toEqual(["npm:@types/node@20.2.5", "npm:vite@4.3.8"]);
    expect(pins("b/pnpm-lock.yaml", "pnpm-lock-v5.yaml")).toEqual(["npm:@sentry/node@7.0.0", "npm:debug@4.3.1"]);
  });

  it("requirements.txt: exact pins with extras, markers, hashes and comments; ranges and options left out", () => {
    expect(pins("requirements.txt", "requirements.txt")).toEqual([
      "PyPI:django@3.2.4",
      "PyPI:pyyaml@5.3.1",
      "PyPI:requests@2.25.1",
      "PyPI:urllib3@1.26.4",
      "PyPI:zope-interface@5.4.0",
    ]);
  });

  it("poetry.lock and Pipfile.lock: names normalised, git and path sources left out", () => {
    expect(pins("poetry.lock", "poetry.lock")).toEqual(["PyPI:certifi@2022.12.7", "PyPI:jinja2@2.11.2"]);
    expect(pins("Pipfile.lock", "Pipfile.lock")).toEqual(["PyPI:cryptography@3.3.1", "PyPI:pillow@8.1.0", "PyPI:pytest@6.2.1"]);
  });

  it("go.sum: the highest version of each module, go.mod-only lines folded in", () => {
    expect(pins("go.sum", "go.sum")).toEqual([
      "Go:github.com/gin-gonic/gin@v1.6.3",
      "Go:golang.org/x/net@v0.7.0",
      "Go:golang.org/x/text@v0.3.5",
      "Go:gopkg.in/yaml.v2@v2.2.8",
    ]);
  });

  it("go.mod: required modules in blocks and single lines, replaced ones left out", () => {
    expect(pins("go.mod", "go.mod")).toEqual(["Go:github.com/gin-gonic/gin@v1.6.3", "Go:golang.org/x/net@v0.7.0", "Go:gopkg.in/yaml.v2@v2.2.8"]);
  });

  it("pom.xml: properties, project.version and dependencyManagement resolved; ranges and plugin dependencies left out", () => {
    expect(pins("pom.xml", "pom.xml")).toEqual([
      "Maven:com.acme:billing-api@1.8.0-SNAPSHOT",
      "Maven:com.fasterxml.jackson.core:jackson-databind@2.9.10.1",
      "Maven:junit:junit@4.12",
      "Maven:org.apache.logging.log4j:log4j-core@2.14.1",
      "Maven:org.yaml:snakeyaml@1.26",
    ]);
  });

  it("Gemfile.lock: GEM specs with platform suffixes dropped; GIT sources left out", () => {
    expect(pins("Gemfile.lock", "Gemfile.lock")).toEqual([
      "RubyGems:actionpack@6.1.3",
      "RubyGems:nokogiri@1.11.1",
      "RubyGems:racc@1.5.2",
      "RubyGems:rack@2.2.3",
    ]);
  });

  it("Cargo.lock: crates.io packages only", () => {
    expect(pins("Cargo.lock", "Cargo.lock")).toEqual(["crates.io:smallvec@1.6.0", "crates.io:time@0.1.43"]);
  });

  it("a broken file is an error naming the file and the problem, not an empty list", () => {
    expect(() => parseManifest("web/package-lock.json", '{"name": "x", ')).toThrowError(ManifestError);
    expect(() => parseManifest("web/package-lock.json", '{"name": "x", ')).toThrowError(/web\/package-lock\.json: not valid JSON/);
    expect(() => parseManifest("go.sum", "github.com/x/y v1.0.0\n")).toThrowError(/go\.sum lines are "module version h1:hash"/);
    expect(() => parseManifest("pom.xml", "<html></html>")).toThrowError(/no <project> element/);
    expect(() => parseManifest("yarn.lock", "this is not a lockfile\n")).toThrowError(/entry header ends with ":"/);
    expect(() => parseManifest("pnpm-lock.yaml", "packages:\n  /a@1.0.0:\n")).toThrowError(/lockfileVersion is missing/);
  });

  it("reads uv.lock, composer.lock, NuGet packages.lock.json, gradle.lockfile and bun.lock", () => {
    expect(pins("uv.lock", "uv.lock")).toEqual([
      "PyPI:fastapi@0.109.0",
      "PyPI:pytest@7.4.4",
      "PyPI:redis@5.0.1",
      "PyPI:ruff@0.1.14",
      "PyPI:starlette@0.35.1",
      "PyPI:zope-interface@5.4.0",
    ]);
    expect(pins("composer.lock", "composer.lock")).toEqual([
      "Packagist:guzzlehttp/guzzle@7.4.4",
      "Packagist:guzzlehttp/psr7@2.4.4",
      "Packagist:phpunit/phpunit@9.5.20",
    ]);
    expect(pins("src/Api/packages.lock.json", "packages.lock.json")).toEqual([
      "NuGet:Azure.Identity@1.7.0",
      "NuGet:Microsoft.Data.SqlClient@5.1.1",
      "NuGet:Newtonsoft.Json@13.0.1",
      "NuGet:System.Text.Encodings.Web@6.0.0",
    ]);
    expect(pins("gradle.lockfile", "gradle.lockfile")).toEqual([
      "Maven:com.fasterxml.jackson.core:jackson-databind@2.13.4.2",
      "Maven:junit:junit@4.12",
      "Maven:org.apache.logging.log4j:log4j-core@2.14.1",
    ]);
    expect(pins("bun.lock", "bun.lock")).toEqual(["npm:axios@0.21.1", "npm:follow-redirects@1.13.0", "npm:typescript@5.4.5"]);
    expect(() => parseManifest("gradle.lockfile", "com.acme:only-two-parts=compileClasspath\n")).toThrow(/group:artifact:version=configurations/);
    expect(() => parseManifest("packages.lock.json", '{"version": 1}')).toThrow(/target framework/);
  });

  it("says of each dependency whether the project declares it or what pulls it in, and what it is used for, where the file tells", () => {
    const detail = (path: string, file: string) =>
      parseManifest(path, fixture(file))
        .map(
          (d) =>
            `${d.name}@${d.version} ${d.direct === undefined ? "?" : d.direct ? "direct" : "transitive"} ${d.scope ?? "-"}${d.via ? ` via ${d.via.join(",")}` : ""}`,
        )
        .sort();
    expect(detail("package-lock.json", "package-lock.json")).toEqual([
      "@babel/traverse@7.22.5 transitive development",
      "body-parser@1.19.0 transitive production via express",
      "express@4.17.1 direct production",
      "lodash@4.17.20 direct production",
      "qs@6.5.2 transitive production via express", // express's own nested copy
      "qs@6.7.0 transitive production via express",
    ]);
    expect(detail("pnpm-lock.yaml", "pnpm-lock.yaml")).toEqual([
      "@remix-run/router@1.6.0 transitive -",
      "react-dom@18.2.0 direct production",
      "react@18.2.0 transitive production via react-dom",
      "ws@8.17.0 direct production",
    ]);
    expect(detail("bun.lock", "bun.lock")).toEqual([
      "axios@0.21.1 direct production",
      "follow-redirects@1.13.0 transitive production via axios",
      "typescript@5.4.5 direct development",
    ]);
    expect(detail("uv.lock", "uv.lock")).toEqual([
      "fastapi@0.109.0 direct production",
      "pytest@7.4.4 direct test",
      "redis@5.0.1 direct optional",
      "ruff@0.1.14 direct development",
      "starlette@0.35.1 transitive production via fastapi",
      "zope-interface@5.4.0 direct production",
    ]);
    expect(detail("packages.lock.json", "packages.lock.json")).toEqual([
      "Azure.Identity@1.7.0 transitive production via Microsoft.Data.SqlClient",
      "Microsoft.Data.SqlClient@5.1.1 direct production",
      "Newtonsoft.Json@13.0.1 direct production",
      "System.Text.Encodings.Web@6.0.0 transitive production via Microsoft.Data.SqlClient",
    ]);
    expect(detail("go.mod", "go.mod")).toEqual([
      "github.com/gin-gonic/gin@v1.6.3 direct -",
      "golang.org/x/net@v0.7.0 transitive -",
      "gopkg.in/yaml.v2@v2.2.8 direct -",
    ]);
    expect(detail("Gemfile.lock", "Gemfile.lock")).toEqual([
      "actionpack@6.1.3 direct -",
      "nokogiri@1.11.1 direct -",
      "racc@1.5.2 transitive - via nokogiri",
      "rack@2.2.3 transitive - via actionpack",
    ]);
    expect(detail("pom.xml", "pom.xml").filter((d) => d.startsWith("junit"))).toEqual(["junit:junit@4.12 direct test"]);
    expect(detail("requirements-dev.txt", "requirements.txt")[0]).toMatch(/ direct development$/);
    expect(detail("composer.lock", "composer.lock")).toEqual([
      "guzzlehttp/guzzle@7.4.4 ? production",
      "guzzlehttp/psr7@2.4.4 ? production",
      "phpunit/phpunit@9.5.20 ? development",
    ]);
    expect(detail("gradle.lockfile", "gradle.lockfile")).toEqual([
      "com.fasterxml.jackson.core:jackson-databind@2.13.4.2 ? production",
      "junit:junit@4.12 ? test",
      "org.apache.logging.log4j:log4j-core@2.14.1 ? production",
    ]);
    expect(detail("Pipfile.lock", "Pipfile.lock")).toEqual(["cryptography@3.3.1 ? production", "pillow@8.1.0 ? production", "pytest@6.2.1 ? development"]);
  });

  it("reads JSON with trailing commas (bun.lock) without touching commas inside strings", () => {
    expect(JSON.parse(withoutTrailingCommas('{"a": [1, 2, ], "b": "x, ]", "c": {"d": "\\\\",},}'))).toEqual({ a: [1, 2], b: "x, ]", c: { d: "\\" } });
  });
});
