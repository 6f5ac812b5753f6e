// Every regular expression in src/ is checked by recheck (a maintained ReDoS checker) for
// super-linear backtracking, as JavaScript runs it: a search (`test`, `exec`, `replace`)
// tries the pattern from every position, so an unanchored `<[^>]+>` is quadratic on "<<<<…".
// Patchbay reads untrusted text almost everywhere (repository files, reports, webhook bodies,
// service answers), so the whole tree is held to this, not only the parsers. A RegExp built
// at run time cannot be checked and is refused outright.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { check } from "recheck";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

interface Found {
  where: string;
  source: string;
  flags: string;
}

function regexesOf(file: string): { literal: Found[]; dynamic: string[] } {
  const text = readFileSync(file, "utf8");
  const tree = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const literal: Found[] = [];
  const dynamic: string[] = [];
  const where = (node: ts.Node) => `${relative(root, file)}:${tree.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  const visit = (node: ts.Node) => {
    if (node.kind === ts.SyntaxKind.RegularExpressionLiteral) {
      const raw = node.getText();
      const end = raw.lastIndexOf("/");
      literal.push({ where: where(node), source: raw.slice(1, end), flags: raw.slice(end + 1) });
    } else if ((ts.isNewExpression(node) || ts.isCallExpression(node)) && node.expression.getText() === "RegExp") {
      const [pattern, flags] = node.arguments ?? [];
      if (pattern && ts.isStringLiteral(pattern) && (!flags || ts.isStringLiteral(flags))) {
        literal.push({ where: where(node), source: pattern.text, flags: flags && ts.isStringLiteral(flags) ? flags.text : "" });
      } else dynamic.push(`${where(node)} builds a RegExp at run time: ${node.getText().slice(0, 80)}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(tree);
  return { literal, dynamic };
}

describe("regular expressions", () => {
  it("run in linear time on any input, and none is built at run time", { timeout: 480_000 }, async () => {
    const files = sourceFiles(join(root, "src"));
    const found = files.map(regexesOf);
    const literal = found.flatMap((f) => f.literal);
    const problems = found.flatMap((f) => f.dynamic);
    expect(literal.length).toBeGreaterThan(100);
    const unique = new Map<string, Found[]>();
    for (const r of literal) unique.set(`/${r.source}/${r.flags}`, [...(unique.get(`/${r.source}/${r.flags}`) ?? []), r]);
    const queue = [...unique.values()];
    const stepsOnly = { attackTimeout: null, incubationTimeout: null, seedingTimeout: null };
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const { source, flags } = next[0]!;
        // A check that runs out of time on a busy machine is asked again with more of it. The
        // verdict itself counts the matcher's steps, never the clock: with recheck's default
        // time limits on its fuzzing, a starved machine (another process at full CPU, or the
        // hypervisor's steal) confirmed linear patterns as "polynomial" (reproduced at nice 19
        // beside three busy loops; the same patterns are safe by steps either way).
        let result = await check(source, flags, { ...stepsOnly, timeout: 20_000 });
        if (result.status === "unknown") result = await check(source, flags, { ...stepsOnly, timeout: 90_000 });
        if (result.status !== "safe") {
          const why =
            result.status === "vulnerable"
              ? `${result.complexity.type} backtracking, e.g. on ${JSON.stringify(result.attack.pattern)}`
              : `not proven safe (${result.status})`;
          for (const r of next) problems.push(`${r.where} /${source}/${flags}: ${why}`);
        }
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    expect(problems.sort()).toEqual([]);
  });
});
