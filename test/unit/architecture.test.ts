// The walls of "How Patchbay is built" (README), held by a test. Each rule is a function over
// the source tree; each is also run on a small broken tree to show it catches what it forbids.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

interface Source {
  /** Path from the repository root, with forward slashes: "src/tickets/push.ts". */
  file: string;
  text: string;
}

interface Import {
  from: string;
  /** Resolved path of the imported file ("src/http.ts"), or the package name. */
  target: string;
  typeOnly: boolean;
}

function sources(dir = "src"): Source[] {
  const out: Source[] = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(path.join(ROOT, d), { withFileTypes: true })) {
      const rel = `${d}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (rel.endsWith(".ts")) out.push({ file: rel, text: fs.readFileSync(path.join(ROOT, rel), "utf8") });
    }
  };
  walk(dir);
  return out;
}

/** Import and re-export statements, with whether they bring types only. */
export function importsOf(source: Source): Import[] {
  const out: Import[] = [];
  for (const m of source.text.matchAll(/^(?:import|export)\s+(type\s+)?([^;]*?)\s*from\s+["']([^"']+)["']/gm)) {
    const clause = m[2] ?? "";
    const braces = /\{([^}]*)\}/.exec(clause);
    const named = braces
      ? braces[1]!
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : [];
    const bare = clause.replace(/\{[^}]*\}/, "").replace(/[\s,]/g, "");
    const typeOnly = Boolean(m[1]) || (!bare && named.length > 0 && named.every((n) => n.startsWith("type ")));
    const spec = m[3]!;
    const target = spec.startsWith(".") ? path.posix.normalize(path.posix.join(path.posix.dirname(source.file), spec.replace(/\.js$/, ".ts"))) : spec;
    out.push({ from: source.file, target, typeOnly });
  }
  return out;
}

/** Where connectors may reach: their own folder, the pure vulnerability domain, and the platform floor. */
const CONNECTOR_MAY_IMPORT = [/^src\/connectors\//, /^src\/vuln\//, /^src\/(http|log|text|outbound)\.ts$/];

export function connectorViolations(tree: Source[]): string[] {
  return (
    tree
      .filter((s) => s.file.startsWith("src/connectors/"))
      .flatMap(importsOf)
      // Packages (no "src/") are anyone's.
      .filter((i) => i.target.startsWith("src/") && !CONNECTOR_MAY_IMPORT.some((re) => re.test(i.target)))
      .map((i) => `${i.from} imports ${i.target}`)
  );
}

/** The folder of a source file: "tickets", or the file itself for the top floor ("http"). */
function folderOf(file: string): string {
  const parts = file.replace(/^src\//, "").split("/");
  return parts.length === 1 ? parts[0]!.replace(/\.ts$/, "") : parts[0]!;
}

/** Folders that reach one another through value imports, each group sorted, groups sorted. */
export function folderCycles(tree: Source[]): string[][] {
  const edges = new Map<string, Set<string>>();
  for (const i of tree.flatMap(importsOf)) {
    if (i.typeOnly || !i.target.startsWith("src/")) continue;
    const a = folderOf(i.from);
    const b = folderOf(i.target);
    if (a === b) continue;
    if (!edges.has(a)) edges.set(a, new Set());
    edges.get(a)!.add(b);
  }
  // Tarjan's strongly connected components.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) groups.push(group.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return groups.sort((a, b) => a.join().localeCompare(b.join()));
}

/** The engines of DESIGN.md: they work on findings, tickets and jobs, never on a particular service. */
const ENGINE_FOLDERS = ["findings", "tickets", "remediation", "routing", "notifications", "jobs"];

/** Names of outbound services (and their vendors), as code would spell them. */
const SERVICE_NAMES =
  /\b(github|gitlab|jira|atlassian|slack|servicenow|azure|dependabot|wiz|bitbucket|pypi|maven central|osv|docker ?hub|ecr|ghcr|artifact registry|smtp)\b|\b(Teams|Microsoft|AWS|Google)\b/gi;

/** The text without comments (line and block), strings and template text kept. */
function withoutComments(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (ch === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? text.length : end + 2;
    } else if (ch === '"' || ch === "'" || ch === "`") {
      // A string (or template text) is copied whole, escapes included: "//" inside it is not a comment.
      let j = i + 1;
      while (j < text.length && text[j] !== ch) j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

/** Engine files that name a service outside comments, with the name. */
export function engineServiceNames(tree: Source[]): string[] {
  return tree
    .filter((s) => ENGINE_FOLDERS.includes(folderOf(s.file)) && s.file.includes("/"))
    .flatMap((s) => {
      const code = withoutComments(s.text);
      const names = new Set<string>();
      for (const m of code.matchAll(SERVICE_NAMES)) {
        // Case-sensitive names (Teams, Microsoft…) only count as written.
        if (m[2] && !/^(Teams|Microsoft|AWS|Google)$/.test(m[0])) continue;
        names.add(m[0]);
      }
      return [...names].map((n) => `${s.file} names ${n}`);
    });
}

/** Files other than the status module that write a finding's status or its history. */
export function statusWriters(tree: Source[]): string[] {
  return tree
    .filter((s) => s.file !== "src/findings/status.ts")
    .filter((s) => /insertInto\(\s*"finding_events"/.test(s.text) || /updateTable\(\s*"findings"\s*\)\s*\.set\(\s*\{[^}]*\bstatus\s*:/.test(s.text))
    .map((s) => s.file)
    .sort();
}

/** Files that queue a job by a bare name instead of its declared kind (enqueue(db, KIND, payload)). */
export function untypedEnqueues(tree: Source[]): string[] {
  return tree
    .filter((s) => s.file !== "src/jobs/queue.ts" && /\benqueueJob\(/.test(s.text))
    .map((s) => s.file)
    .sort();
}

/** Templates that format by hand what the page helpers (src/web/format.ts) format, or parse JSON. */
export function handFormatting(views: Source[]): string[] {
  const rules: [RegExp, string][] = [
    [/JSON\.parse/, "parses JSON"],
    [/\.replace\("T", " "\)|_at\)?\.slice\(0, 1[069]\)/, "formats a date by hand (use moment or day)"],
    [/toLocaleString/, "formats a number by hand (use count or plural)"],
  ];
  return views.flatMap((v) => rules.filter(([re]) => re.test(v.text)).map(([, what]) => `${v.file} ${what}`)).sort();
}

function templates(dir = "views"): Source[] {
  const out: Source[] = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(path.join(ROOT, d), { withFileTypes: true })) {
      const rel = `${d}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (rel.endsWith(".eta")) out.push({ file: rel, text: fs.readFileSync(path.join(ROOT, rel), "utf8") });
    }
  };
  walk(dir);
  return out;
}

/**
 * Tables with a second door, and why. Every other table is written (inserted, updated,
 * deleted) from exactly one file: the store of its family, which everyone else calls.
 */
const SECOND_DOORS: Record<string, string> = {
  // A finding's status and history move together, in one module (the rule above).
  "findings src/findings/status.ts": "status and history",
  // Ownership columns (a repository's own route, its CODEOWNERS and criticality) belong to routing.
  "repositories src/routing/ownership.ts": "routing, codeowners and criticality columns",
  // A repository's own remediation settings belong to the remediation settings.
  "repositories src/remediation/settings.ts": "remediation column",
  // A finding's risk score and due date are written by the scoring that computes them.
  "findings src/exploitation/risk.ts": "the risk and due_at columns",
};

/** Tables written from more than one file (beyond the second doors above), with the files. */
export function tablesWithManyDoors(tree: Source[]): string[] {
  const writers = new Map<string, Set<string>>();
  const write = /\.(?:insertInto|updateTable|deleteFrom)\(\s*["'`](\w+)|\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)/g;
  for (const s of tree) {
    for (const m of withoutComments(s.text).matchAll(write)) {
      const table = (m[1] ?? m[2])!;
      if (SECOND_DOORS[`${table} ${s.file}`]) continue;
      if (!writers.has(table)) writers.set(table, new Set());
      writers.get(table)!.add(s.file);
    }
  }
  return [...writers]
    .filter(([, files]) => files.size > 1)
    .map(([table, files]) => `${table}: ${[...files].sort().join(", ")}`)
    .sort();
}

/** Route files that build SQL themselves. */
export function routeSqlFiles(tree: Source[]): string[] {
  return tree
    .filter((s) => s.file.startsWith("src/web/") && /\.(selectFrom|insertInto|updateTable|deleteFrom)\(|\bsql`/.test(s.text))
    .map((s) => s.file)
    .sort();
}

describe("the layering", () => {
  const tree = sources();

  it("connectors import only the connector floor, the vulnerability domain, the HTTP helper, the logger and text helpers", () => {
    expect(connectorViolations(tree)).toEqual([]);
    // …and the rule catches a connector reaching up into an engine.
    const broken = [
      { file: "src/connectors/acme/index.ts", text: 'import { pushSubject } from "../../tickets/push.js";\nimport type { Db } from "../../db/schema.js";\n' },
    ];
    expect(connectorViolations(broken)).toEqual([
      "src/connectors/acme/index.ts imports src/tickets/push.ts",
      "src/connectors/acme/index.ts imports src/db/schema.ts",
    ]);
  });

  it("engines name no service: every outbound service is a connector", () => {
    expect(engineServiceNames(tree)).toEqual([]);
    const broken = [
      { file: "src/tickets/push.ts", text: '// GitHub is mentioned in a comment only.\nif (integration.kind === "github") retry();\n' },
      { file: "src/routing/ownership.ts", text: "/* Slack */ const url = `https://x/${a}`; // teams of people\nconst ok = 1;\n" },
      { file: "src/connectors/slack/index.ts", text: 'const name = "Slack";\n' },
    ];
    expect(engineServiceNames(broken)).toEqual(["src/tickets/push.ts names github"]);
  });

  it("has no import cycle between folders (value imports; type-only imports do not tie folders)", () => {
    expect(folderCycles(tree)).toEqual([]);
    const broken = [
      { file: "src/a/one.ts", text: 'import { two } from "../b/two.js";\n' },
      { file: "src/b/two.ts", text: 'import { one } from "../a/one.js";\n' },
      { file: "src/c/three.ts", text: 'import type { one } from "../a/one.js";\n' },
      { file: "src/a/four.ts", text: 'import { type three } from "../c/three.js";\n' },
    ];
    expect(folderCycles(broken)).toEqual([["a", "b"]]);
  });

  it("one module changes a finding's status and writes its history", () => {
    expect(statusWriters(tree)).toEqual([]);
    const broken = [
      {
        file: "src/tickets/inbound.ts",
        text: 'await trx.updateTable("findings").set({ status: "resolved", updated_at: stamp }).where("id", "in", ids).execute();',
      },
      { file: "src/remediation/process.ts", text: 'await db.insertInto("finding_events").values(rows).execute();' },
      { file: "src/findings/sla.ts", text: 'await db.updateTable("findings").set({ due_at: due }).execute();' },
    ];
    expect(statusWriters(broken)).toEqual(["src/remediation/process.ts", "src/tickets/inbound.ts"]);
  });

  it("writes each table through one door: its family's store", () => {
    expect(tablesWithManyDoors(tree)).toEqual([]);
    const broken = [
      { file: "src/tickets/store.ts", text: 'await db.updateTable("tickets").set(set).where("id", "=", id).execute();' },
      { file: "src/tickets/push.ts", text: 'await db.updateTable("tickets").set({ lock_until: null }).execute(); // insertInto("jobs") in a comment' },
      { file: "src/jobs/queue.ts", text: 'await db.insertInto("jobs").values(row).execute();' },
      { file: "src/notifications/dispatch.ts", text: "await sql`UPDATE jobs SET payload = ${p}`.execute(db);" },
      { file: "src/findings/status.ts", text: 'await db.updateTable("findings").set({ status }).execute();' },
      { file: "src/findings/store.ts", text: 'await db.updateTable("findings").set({ title }).execute();' },
    ];
    expect(tablesWithManyDoors(broken)).toEqual([
      "jobs: src/jobs/queue.ts, src/notifications/dispatch.ts",
      "tickets: src/tickets/push.ts, src/tickets/store.ts",
    ]);
  });

  it("queues every job through its declared kind (payload typed, no bare job names)", () => {
    expect(untypedEnqueues(tree)).toEqual([]);
    expect(
      untypedEnqueues([
        { file: "src/tickets/push.ts", text: 'await enqueueJob(db, "ticket.push", { mappingId }, now);' },
        { file: "src/jobs/queue.ts", text: "export async function enqueueJob(" },
      ]),
    ).toEqual(["src/tickets/push.ts"]);
  });

  it("templates format dates and counts with the page helpers and parse no JSON", () => {
    expect(handFormatting(templates())).toEqual([]);
    const broken = [
      { file: "views/a.eta", text: '<%= r.created_at.replace("T", " ").slice(0, 16) %> <%= n.toLocaleString("en") %>' },
      { file: "views/b.eta", text: "<% const e = JSON.parse(r.report); %><%= moment(r.at) %> <%= i.digest.slice(0, 19) %>" },
    ];
    expect(handFormatting(broken)).toEqual([
      "views/a.eta formats a date by hand (use moment or day)",
      "views/a.eta formats a number by hand (use count or plural)",
      "views/b.eta parses JSON",
    ]);
  });

  it("route files build no SQL: they call stores and engines", () => {
    expect(routeSqlFiles(tree)).toEqual([]);
    expect(routeSqlFiles([{ file: "src/web/new.ts", text: 'await deps.db.selectFrom("findings").selectAll().execute();' }])).toEqual(["src/web/new.ts"]);
    expect(
      routeSqlFiles([
        { file: "src/web/new.ts", text: "const q = sql`select 1`;" },
        { file: "src/findings/store.ts", text: 'db.selectFrom("findings")' },
      ]),
    ).toEqual(["src/web/new.ts"]);
  });
});
