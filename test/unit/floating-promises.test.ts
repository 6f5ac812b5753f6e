// No promise left floating: a statement that starts async work and neither awaits it, returns it,
// hands it on, nor says `void` on purpose. Such work runs on after its caller has moved on: its
// failure is an unhandled rejection (which ends a Node process), and in a test it may touch a
// database already closed — the secrets test did so with a stray query, and failed one full run
// in four with "The database connection is not open". Checked with the type checker over the
// whole project (src, migrations, test).
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { expect, it } from "vitest";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * Each place in the program's own files where a promise is dropped, as "file:line: text": a
 * statement whose value is a promise nobody takes, or a function that returns one given where
 * its caller expects nothing back (a timer's or an event's callback: nobody awaits what it returns).
 */
function floatingPromises(program: ts.Program): string[] {
  const checker = program.getTypeChecker();
  const thenable = (type: ts.Type, at: ts.Node) => {
    const then = checker.getPropertyOfType(type, "then");
    return then !== undefined && checker.getTypeOfSymbolAtLocation(then, at).getCallSignatures().length > 0;
  };
  /** A rejection handler attached: `.catch(…)`, or `.then(…, …)`. */
  const handled = (e: ts.Node) =>
    ts.isCallExpression(e) &&
    ts.isPropertyAccessExpression(e.expression) &&
    (e.expression.name.text === "catch" || (e.expression.name.text === "then" && e.arguments.length >= 2));
  const found: string[] = [];
  for (const file of program.getSourceFiles()) {
    if (file.isDeclarationFile || file.fileName.includes("/node_modules/")) continue;
    const report = (node: ts.Node) => {
      const { line } = file.getLineAndCharacterOfPosition(node.getStart());
      found.push(`${path.relative(ROOT, file.fileName)}:${line + 1}: ${node.getText().replace(/\s+/g, " ").slice(0, 120)}`);
    };
    const visit = (node: ts.Node) => {
      if (ts.isExpressionStatement(node)) {
        const e = node.expression;
        const stored =
          ts.isBinaryExpression(e) && e.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && e.operatorToken.kind <= ts.SyntaxKind.LastAssignment;
        if (!handled(e) && !stored && !ts.isVoidExpression(e) && !ts.isAwaitExpression(e) && thenable(checker.getTypeAtLocation(e), e)) report(node);
      }
      if ((ts.isArrowFunction(node) || ts.isFunctionExpression(node)) && ts.isCallExpression(node.parent) && node.parent.arguments.includes(node)) {
        const signature = checker.getSignatureFromDeclaration(node);
        const returned = signature && checker.getReturnTypeOfSignature(signature);
        const expected = checker.getContextualType(node)?.getNonNullableType().getCallSignatures() ?? [];
        const voidOnly = expected.length > 0 && expected.every((s) => (checker.getReturnTypeOfSignature(s).flags & ts.TypeFlags.Void) !== 0);
        if (returned && voidOnly && thenable(returned, node) && !handled(node.body)) report(node.parent);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return found;
}

it("leaves no promise floating anywhere in the project", { timeout: 180_000 }, () => {
  const parsed = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  expect(parsed?.fileNames.length).toBeGreaterThan(300);
  expect(floatingPromises(ts.createProgram(parsed!.fileNames, parsed!.options))).toEqual([]);
});

it("finds a floating promise, and lets awaited, returned, stored, voided and handled ones be", () => {
  const source = `
    declare const db: { run(): Promise<number>; sync(): number };
    declare function later(callback: () => void): void;
    export async function f(): Promise<number> {
      db.run();
      await db.run();
      void db.run();
      db.run().catch(() => 0);
      db.run().then(() => 1, () => 0);
      db.run().then(() => 1);
      let kept = db.run();
      kept = db.run();
      db.sync();
      later(async () => { await db.run(); });
      later(() => db.run().catch(() => 0));
      later(() => { void db.run(); });
      await Promise.all([1, 2].map(async () => db.run()));
      return db.run();
    }
  `;
  const host = ts.createCompilerHost({ strict: true, target: ts.ScriptTarget.ES2022, noEmit: true });
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version) => (name === "/virtual/a.ts" ? ts.createSourceFile(name, source, version, true) : read(name, version));
  const found = floatingPromises(
    ts.createProgram(["/virtual/a.ts"], { strict: true, target: ts.ScriptTarget.ES2022, noEmit: true, lib: ["lib.es2022.d.ts"] }, host),
  );
  expect(found.map((f) => f.replace(/^.*a\.ts:/, ""))).toEqual(["5: db.run();", "10: db.run().then(() => 1);", "14: later(async () => { await db.run(); })"]);
});
