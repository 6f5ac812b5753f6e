// pom.xml: the dependency's version raised where the file sets it — on the dependency itself,
// in the property its version names, or in dependencyManagement (where a transitive one is
// pinned, added when absent) — editing only those characters, so formatting and comments stay
// as they were. The file is untrusted: read by a strict streaming XML parser in linear time.
import sax from "sax";
import { type FixOutcome, cannot } from "./types.js";

interface Element {
  name: string;
  /** Where the element's content starts (after its opening tag) and ends (before its closing tag). */
  start: number;
  end: number;
  /** Where the opening tag starts ("<"). */
  tagStart: number;
  children: Element[];
}

const MAX_DEPTH = 64;

/** A Maven version as a pom may hold it literally: no markup, no property, no range. */
const PLAIN_VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

function tree(text: string): Element | string {
  const parser = sax.parser(true, { trim: false, xmlns: false });
  const root: Element = { name: "", start: 0, end: text.length, tagStart: 0, children: [] };
  const stack = [root];
  let failure: string | undefined;
  parser.onopentag = (tag) => {
    if (stack.length > MAX_DEPTH) {
      failure ??= `elements nested deeper than ${MAX_DEPTH} levels`;
      return;
    }
    // sax: position is just after the opening tag's ">"; startTagPosition is one after its "<".
    const element: Element = { name: tag.name, start: parser.position, end: parser.position, tagStart: parser.startTagPosition - 1, children: [] };
    stack.at(-1)!.children.push(element);
    stack.push(element);
  };
  parser.onclosetag = () => {
    const element = stack.pop()!;
    // A self-closing tag ends where it starts; a closing tag starts one before startTagPosition.
    element.end = text.startsWith("/>", parser.position - 2) && element.start === parser.position ? element.start : parser.startTagPosition - 1;
  };
  parser.onerror = (err) => {
    failure ??= err.message.split("\n")[0];
  };
  try {
    parser.write(text).close();
  } catch (err) {
    failure ??= (err as Error).message.split("\n")[0];
  }
  return failure ?? root;
}

const childOf = (e: Element | undefined, name: string) => e?.children.find((c) => c.name === name);
const children = (e: Element | undefined, name: string) => e?.children.filter((c) => c.name === name) ?? [];

/**
 * Raises `name` ("group:artifact") to `to` in a pom.xml. `direct`: the project declares it
 * (else it is pulled in by another dependency and pinned through dependencyManagement).
 */
export function raiseMaven(path: string, text: string, name: string, to: string): FixOutcome {
  if (!PLAIN_VERSION.test(to)) return cannot(`the fixed version "${to.slice(0, 40)}" is not a plain Maven version`);
  const [group, artifact, extra] = name.split(":");
  if (!group || !artifact || extra !== undefined) return cannot(`"${name}" is not a Maven group:artifact`);
  const root = tree(text);
  if (typeof root === "string") return cannot(`${path} is not well-formed XML (${root})`);
  const project = childOf(root, "project");
  if (!project) return cannot(`${path} has no <project> element`);
  const inner = (e: Element | undefined) => (e ? text.slice(e.start, e.end).trim() : undefined);
  const properties = new Map(childOf(project, "properties")?.children.map((p) => [p.name, p]) ?? []);
  // Only what this file says: a property from a parent POM is not known here.
  const resolve = (value: string | undefined) => (value?.startsWith("${") && value.endsWith("}") ? inner(properties.get(value.slice(2, -1))) : value);
  const matches = (d: Element) => resolve(inner(childOf(d, "groupId"))) === group && resolve(inner(childOf(d, "artifactId"))) === artifact;
  const managedList = childOf(childOf(project, "dependencyManagement"), "dependencies");
  const declared = children(childOf(project, "dependencies"), "dependency").filter(matches);
  const managed = children(managedList, "dependency").filter((d) => matches(d) && inner(childOf(d, "scope")) !== "import");

  const edits: { at: number; end: number; text: string }[] = [];
  const hows: string[] = [];
  /** Sets a <version> element (or the property it names) to `to`. */
  const setVersion = (version: Element, where: string): string | undefined => {
    const value = inner(version)!;
    if (value.startsWith("[") || value.startsWith("(")) return `${where} gives a version range (${value}); ranges are left to people`;
    if (value.includes("${")) {
      const match = /^\$\{([A-Za-z0-9._-]+)\}$/.exec(value);
      const property = match && properties.get(match[1]!);
      if (!property) return `${where} takes its version from \${${match?.[1] ?? value}}, which this file does not define (a parent POM or the build does)`;
      edits.push({ at: property.start, end: property.end, text: to });
      const users = text.split(`\${${match[1]!}}`).length - 1;
      hows.push(`the property ${match[1]} (used ${users === 1 ? "once" : `${users} times`} in ${path})`);
      return undefined;
    }
    edits.push({ at: version.start, end: version.end, text: to });
    hows.push(`the version ${where} sets`);
    return undefined;
  };

  /** Raises the versions dependencyManagement gives the package; the problem, if one cannot be. */
  const setManaged = (): string | undefined => {
    for (const m of managed) {
      const v = childOf(m, "version");
      const problem = v ? setVersion(v, `dependencyManagement for ${name}`) : `${name} has no version in ${path}'s dependencyManagement`;
      if (problem) return problem;
    }
    return undefined;
  };

  if (declared.length) {
    for (const d of declared) {
      const version = childOf(d, "version");
      const problem = version
        ? setVersion(version, `the dependency ${name}`)
        : managed.length
          ? setManaged()
          : `${name} takes its version from a parent POM or an imported BOM, not from ${path}`;
      if (problem) return cannot(problem);
    }
  } else if (managed.length) {
    const problem = setManaged();
    if (problem) return cannot(problem);
  } else {
    // A transitive dependency: pinned by a new dependencyManagement entry.
    const indent = indentUnit(text, project);
    const base = lineIndent(text, project.tagStart);
    const entry = (level: number) =>
      [
        `<dependency>`,
        `${indent}<groupId>${group}</groupId>`,
        `${indent}<artifactId>${artifact}</artifactId>`,
        `${indent}<version>${to}</version>`,
        `</dependency>`,
      ].map((line) => base + indent.repeat(level) + line);
    if (managedList) {
      const closing = lineStartBefore(text, managedList.end);
      edits.push({ at: closing, end: closing, text: entry(3).join("\n") + "\n" });
    } else if (childOf(project, "dependencyManagement")) {
      return cannot(`${path}'s <dependencyManagement> has no <dependencies> list to pin ${name} in`);
    } else {
      const anchor = childOf(project, "dependencies") ?? childOf(project, "build");
      const at = anchor ? lineStartBefore(text, anchor.tagStart) : lineStartBefore(text, project.end);
      const block = [
        `${base}${indent}<dependencyManagement>`,
        `${base}${indent.repeat(2)}<dependencies>`,
        ...entry(3),
        `${base}${indent.repeat(2)}</dependencies>`,
        `${base}${indent}</dependencyManagement>`,
      ];
      edits.push({ at, end: at, text: block.join("\n") + "\n" });
    }
    hows.push(`a new dependencyManagement entry (${name} is pulled in by another dependency)`);
  }
  if (edits.length === 0) return cannot(`${name} is not in ${path}`);
  // Two dependencies naming one property set it once.
  const unique = [...new Map(edits.map((e) => [`${e.at}:${e.end}`, e])).values()].sort((a, b) => b.at - a.at);
  let after = text;
  for (const e of unique) after = after.slice(0, e.at) + e.text + after.slice(e.end);
  if (after === text) return cannot(`${name} is already at ${to} in ${path}`);
  return { ok: true, changes: [{ path, before: text, after }], how: `${name} → ${to} in ${path}: ${[...new Set(hows)].join("; ")}` };
}

/** The file's indentation step: the first child line's indent under <project>, else two spaces. */
function indentUnit(text: string, project: Element): string {
  const first = project.children[0];
  if (!first) return "  ";
  const own = lineIndent(text, first.tagStart);
  const base = lineIndent(text, project.tagStart);
  return own.startsWith(base) && own.length > base.length ? own.slice(base.length) : "  ";
}

/** The whitespace that starts the line holding `at`. */
function lineIndent(text: string, at: number): string {
  const lineStart = text.lastIndexOf("\n", at - 1) + 1;
  let end = lineStart;
  while (end < at && (text[end] === " " || text[end] === "\t")) end++;
  return text.slice(lineStart, end);
}

/** The start of the line holding `at` when only whitespace precedes it there, else `at` itself. */
function lineStartBefore(text: string, at: number): number {
  const lineStart = text.lastIndexOf("\n", at - 1) + 1;
  return /^[ \t]*$/.test(text.slice(lineStart, at)) ? lineStart : at;
}
