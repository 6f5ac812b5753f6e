// Adversarial and benign inputs of the same size for every parser of untrusted text: the
// unit suite reads each once (test/unit/hostile-text.test.ts), and npm run bench times both
// and reports adversarial ÷ benign, which stays near 1 for a parser that runs in linear time.
// The adversarial strings are the attacks a ReDoS checker found against the parsers Patchbay
// had before: each made one of them backtrack for minutes.
import { ManifestError, parseManifest } from "../../src/vuln/manifests.js";
import { repositoryUrlKey } from "../../src/findings/repositories.js";
import { mentionedTicketKeys } from "../../src/remediation/fixes.js";
import { ownersOf, parseCodeowners } from "../../src/routing/codeowners.js";
import { compileTemplate } from "../../src/tickets/templates.js";
import { packageFromMessage } from "../../src/vuln/advisories.js";
import { parsePurl } from "../../src/uploads/purl.js";

export interface HostileInput {
  parser: string;
  name: string;
  adversarial: string;
  benign: string;
  /** Reads the text the way Patchbay does; returns a summary (never throws but for a bug). */
  run(text: string): string;
}

/** The text repeated until it is `size` characters long. */
function fill(unit: string, size: number): string {
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}

function manifest(path: string): (text: string) => string {
  return (text) => {
    try {
      return `${parseManifest(path, text).length} dependencies`;
    } catch (err) {
      if (err instanceof ManifestError) return `refused: ${err.reason}`;
      throw err;
    }
  };
}

function templateOutcome(text: string): string {
  try {
    return `${compileTemplate(text).length} nodes`;
  } catch (err) {
    return `refused: ${(err as Error).message.slice(0, 40)}`;
  }
}

const PATH = `src/${"a".repeat(200)}/index.js`;

export function hostileInputs(size = 64 * 1024): HostileInput[] {
  const half = Math.floor(size / 2);
  const cargoPackage = (i: number) =>
    `[[package]]\nname = "crate-${i}"\nversion = "1.0.${i}"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n\n`;
  const poetryPackage = (i: number) => `[[package]]\nname = "lib-${i}"\nversion = "2.${i}.0"\ndescription = ""\noptional = false\n\n`;
  const many = (make: (i: number) => string) => {
    let out = "";
    for (let i = 0; out.length < size; i++) out += make(i);
    return out;
  };
  const pomDependency = "<dependency><groupId>org.acme</groupId><artifactId>lib</artifactId><version>1.0.0</version></dependency>\n";
  const pomOf = (inner: string) => `<project><modelVersion>4.0.0</modelVersion><dependencies>${inner}</dependencies></project>`;
  // A package-lock.json whose every package is declared and depends on every other (the
  // dependency chains' worst case), against one of the same size whose packages form a line.
  const packageLock = (wired: (i: number, n: number) => number[]) => {
    const entry = (i: number, n: number) =>
      `"node_modules/p${i}": {"version": "1.0.0", "dependencies": {${wired(i, n)
        .map((j) => `"p${j}": "1"`)
        .join(", ")}}}`;
    let n = 1;
    const build = (count: number) =>
      `{"lockfileVersion": 3, "packages": {"": {"dependencies": {${Array.from({ length: count }, (_, i) => `"p${i}": "1"`).join(", ")}}}, ${Array.from({ length: count }, (_, i) => entry(i, count)).join(", ")}}}`;
    while (build(n * 2).length < size) n *= 2;
    for (let step = n / 2; step >= 1; step /= 2) if (build(n + step).length < size) n += step;
    return build(n);
  };
  return [
    {
      parser: "Cargo.lock",
      name: "a table header that never closes",
      adversarial: `[[${"\t".repeat(half)}[${"\t".repeat(half)}`,
      benign: many(cargoPackage),
      run: manifest("Cargo.lock"),
    },
    {
      parser: "poetry.lock",
      name: "blank lines before [metadata]",
      adversarial: `]${fill("\n\t", size)}d\n[metadata]`,
      benign: many(poetryPackage),
      run: manifest("poetry.lock"),
    },
    {
      parser: "pom.xml",
      name: "comments that never close",
      adversarial: pomOf(fill("<!--", size)),
      benign: pomOf(pomDependency.repeat(Math.ceil(size / pomDependency.length))),
      run: manifest("pom.xml"),
    },
    {
      parser: "pom.xml",
      name: "white space in a version that never closes",
      adversarial: `<project><version>${" ".repeat(size)}</project>`,
      benign: pomOf(pomDependency.repeat(Math.ceil(size / pomDependency.length))),
      run: manifest("pom.xml"),
    },
    {
      parser: "poetry.lock",
      name: "a table header that never closes",
      adversarial: `[[${" ".repeat(half)}[${" ".repeat(half)}`,
      benign: many(poetryPackage),
      run: manifest("poetry.lock"),
    },
    {
      parser: "pom.xml",
      name: "white space inside a property",
      adversarial: `<project><properties><a>${"\t".repeat(size)}</project>`,
      benign: pomOf(pomDependency.repeat(Math.ceil(size / pomDependency.length))),
      run: manifest("pom.xml"),
    },
    {
      parser: "pom.xml",
      name: "dependency blocks that never close",
      adversarial: pomOf(fill("<dependency>", size)),
      benign: pomOf(pomDependency.repeat(Math.ceil(size / pomDependency.length))),
      run: manifest("pom.xml"),
    },
    {
      parser: "requirements.txt",
      name: "hash options after a marker",
      adversarial: `a ==0;${fill(".[\t--hash=", size)}_[]\n==a`,
      benign: fill("requests==2.31.0 --hash=sha256:0123456789abcdef\n", size),
      run: manifest("requirements.txt"),
    },
    {
      parser: "package-lock.json",
      name: "every package depends on every other",
      adversarial: packageLock((i, n) => Array.from({ length: n }, (_, j) => j).filter((j) => j !== i)),
      benign: packageLock((i, n) => (i + 1 < n ? [i + 1] : [])),
      run: manifest("package-lock.json"),
    },
    {
      parser: "go.mod",
      name: "empty lines before a module directive",
      adversarial: `${"\n".repeat(size)}=>`,
      benign: `module example.com/app\n\nrequire (\n${fill("\tgolang.org/x/net v0.17.0 // indirect\n", size)})\n`,
      run: manifest("go.mod"),
    },
    {
      parser: "CODEOWNERS",
      name: "patterns of many stars",
      adversarial: fill(`${"*a".repeat(40)}b @acme/x\n`, size),
      benign: fill("/services/payments/**/*.go @acme/payments\n", size),
      run: (text) => ownersOf(parseCodeowners(text, "CODEOWNERS", null), PATH).join(","),
    },
    {
      parser: "pull request text",
      name: "key-like runs",
      adversarial: `${fill("A-0-", size)}_-0#0`,
      benign: fill("Bump lodash to 4.17.21 (SEC-12, acme/api#7) ", size),
      run: (t) => `${mentionedTicketKeys(t).length} keys`,
    },
    {
      parser: "purl",
      name: "version separators",
      adversarial: `pkg:p/g${fill("@:", size)}#\n`,
      benign: `pkg:npm/${fill("a", size)}@1.0.0`,
      run: (t) => parsePurl(t)?.type ?? "none",
    },
    {
      parser: "SARIF message",
      name: "repeated package labels",
      adversarial: `${fill("PACKAGE:S", size)}PACKAGE:\t:,VERSION\tO`,
      benign: fill("npm package: lodash, version 4.17.20 is vulnerable. ", size),
      run: (t) => JSON.stringify(packageFromMessage(t)),
    },
    {
      parser: "repository URL",
      name: "web suffixes",
      adversarial: `https://h.example/${fill("/BLOB/", size)}/-/`,
      benign: `https://h.example/acme/${fill("a", size)}/tree/main`,
      run: (t) => repositoryUrlKey(t)?.slice(0, 20) ?? "none",
    },
    {
      parser: "ticket template",
      name: "tags that never close",
      adversarial: fill("><%<", size),
      benign: fill("<%= it.cve %> in <%= it.package %>\n", size),
      run: templateOutcome,
    },
  ];
}

/** Median milliseconds of `n` runs. */
function median(run: () => void, n = 5): number {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    run();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[Math.floor(n / 2)]!;
}

/** Per parser input: adversarial ÷ benign time at 256 KB (median of 5 each). */
export function hostileRatios(size = 256 * 1024): { parser: string; name: string; ratio: number; adversarialMs: number; benignMs: number }[] {
  return hostileInputs(size).map((input) => {
    const adversarialMs = median(() => input.run(input.adversarial));
    const benignMs = median(() => input.run(input.benign));
    // Both below a millisecond is a tie, not a ratio of timer noise.
    return { parser: input.parser, name: input.name, adversarialMs, benignMs, ratio: Math.max(adversarialMs, 0.5) / Math.max(benignMs, 0.5) };
  });
}
