// A JSON text's members with where each value starts and ends, so a fixer can change one value
// (or add one member) and keep every other character — indentation, key order, the final
// newline — as the file had it. Linear time, bounded depth; the text is untrusted.

export interface JsonNode {
  kind: "object" | "array" | "string" | "other";
  start: number;
  /** One past the value's last character. */
  end: number;
  /** An object's members, in order. */
  members?: { key: string; keyStart: number; value: JsonNode }[];
  /** A string's value. */
  value?: string;
}

const MAX_DEPTH = 64;

export class JsonTextError extends Error {}

/** The text's top value, as positions; throws JsonTextError on what is not JSON. */
export function scanJson(text: string): JsonNode {
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const fail = (what: string): never => {
    throw new JsonTextError(`${what} at character ${i}`);
  };
  const string = (): string => {
    if (text[i] !== '"') fail("a string was expected");
    const start = ++i;
    let escaped = false;
    for (; i < text.length; i++) {
      const ch = text[i]!;
      if (escaped) escaped = false;
      else if (ch === "\\") escaped = true;
      else if (ch === '"') break;
    }
    if (i >= text.length) fail("a string does not end");
    const raw = text.slice(start, i);
    i++;
    return raw.includes("\\") ? (JSON.parse(`"${raw}"`) as string) : raw;
  };
  const value = (depth: number): JsonNode => {
    if (depth > MAX_DEPTH) fail("nested too deeply");
    ws();
    const start = i;
    const ch = text[i];
    if (ch === "{") {
      i++;
      const members: NonNullable<JsonNode["members"]> = [];
      ws();
      if (text[i] === "}") {
        i++;
        return { kind: "object", start, end: i, members };
      }
      for (;;) {
        ws();
        const keyStart = i;
        const key = string();
        ws();
        if (text[i] !== ":") fail("a colon was expected");
        i++;
        members.push({ key, keyStart, value: value(depth + 1) });
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return { kind: "object", start, end: i, members };
        }
        fail("a comma or } was expected");
      }
    }
    if (ch === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return { kind: "array", start, end: i };
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return { kind: "array", start, end: i };
        }
        fail("a comma or ] was expected");
      }
    }
    if (ch === '"') {
      const v = string();
      return { kind: "string", start, end: i, value: v };
    }
    while (i < text.length && /[-+0-9.eEa-z]/.test(text[i]!)) i++;
    if (i === start) fail("a value was expected");
    return { kind: "other", start, end: i };
  };
  const top = value(0);
  ws();
  if (i !== text.length) fail("text after the JSON value");
  return top;
}

/** An object's member by key (the last, as JSON.parse keeps it). */
export function member(node: JsonNode | undefined, key: string): JsonNode | undefined {
  if (node?.kind !== "object") return undefined;
  for (let k = node.members!.length - 1; k >= 0; k--) if (node.members![k]!.key === key) return node.members![k]!.value;
  return undefined;
}

/** The text with [start, end) replaced. */
export function splice(text: string, start: number, end: number, insert: string): string {
  return text.slice(0, start) + insert + text.slice(end);
}

/** The indentation of the line a position is on. */
export function indentAt(text: string, at: number): string {
  const lineStart = text.lastIndexOf("\n", at - 1) + 1;
  let k = lineStart;
  while (text[k] === " " || text[k] === "\t") k++;
  return text.slice(lineStart, k);
}

/**
 * The text with `"key": value` added as the object's last member, indented as its other members
 * are (or one step in from the object's own line, by the file's indentation unit).
 */
export function addMember(text: string, object: JsonNode, key: string, json: string): string {
  const members = object.members!;
  const closeAt = object.end - 1;
  const unit = indentUnit(text);
  if (members.length === 0) {
    const outer = indentAt(text, object.start);
    return splice(text, object.start, object.end, `{\n${outer}${unit}${JSON.stringify(key)}: ${json}\n${outer}}`);
  }
  const last = members[members.length - 1]!;
  const inner = indentAt(text, last.keyStart);
  const multiline = text.slice(object.start, closeAt).includes("\n");
  const entry = multiline ? `,\n${inner}${JSON.stringify(key)}: ${json}` : `, ${JSON.stringify(key)}: ${json}`;
  return splice(text, last.value.end, last.value.end, entry);
}

/** The file's indentation step: the first indented line's leading blanks (two spaces by default). */
export function indentUnit(text: string): string {
  const at = text.indexOf("\n");
  if (at < 0) return "  ";
  let k = at + 1;
  while (text[k] === " " || text[k] === "\t") k++;
  return k > at + 1 ? text.slice(at + 1, k) : "  ";
}
