// Patchbay's neutral ticket text as Atlassian Document Format (the only rich text Jira's
// REST v3 accepts), valid against Atlassian's ADF schema (no empty lists, headings or text
// nodes) and kept inside Jira's 32,767-character limit for a description: list items are
// dropped from the end with a line saying how many, then over-long text is cut.
import type { Block, Span } from "../types.js";

type Node = Record<string, unknown>;

export const MAX_DOCUMENT_CHARS = 32_767;

export function toAdf(blocks: Block[]): Node {
  let doc = render(blocks);
  if (size(doc) <= MAX_DOCUMENT_CHARS) return doc;
  // Too long: drop list items from the end (the ticket links back to Patchbay for the rest).
  const trimmed = blocks.map((b) => (b.type === "list" ? { ...b, items: [...b.items] } : b));
  const left = new Map<Block, number>();
  while (size(doc) > MAX_DOCUMENT_CHARS) {
    const list = [...trimmed].reverse().find((b): b is Extract<Block, { type: "list" }> => b.type === "list" && b.items.length - (left.has(b) ? 1 : 0) > 1);
    if (!list) break;
    const kept = list.items.length - (left.has(list) ? 1 : 0);
    const keep = Math.max(1, Math.floor(kept * 0.8));
    const dropped = kept - keep + (left.get(list) ?? 0);
    list.items.splice(keep);
    list.items.push([
      { text: `… and ${dropped} more, left out to stay within Jira's ${MAX_DOCUMENT_CHARS.toLocaleString("en")} characters: see them in Patchbay.` },
    ]);
    left.set(list, dropped);
    doc = render(trimmed);
  }
  // Still too long (one very long paragraph): its text is cut.
  while (size(doc) > MAX_DOCUMENT_CHARS) {
    const spans = longestSpan(trimmed);
    if (!spans) break;
    const excess = size(doc) - MAX_DOCUMENT_CHARS + 40;
    spans.text = `${spans.text.slice(0, Math.max(0, spans.text.length - excess))} … (cut)`;
    doc = render(trimmed);
  }
  return doc;
}

const size = (doc: Node) => JSON.stringify(doc).length;

/** The longest span of the document, copied in place so it can be shortened. */
function longestSpan(blocks: Block[]): Span | undefined {
  let best: Span | undefined;
  for (const [i, b] of blocks.entries()) {
    if (b.type !== "paragraph") continue;
    const spans = b.spans.map((s) => ({ ...s }));
    blocks[i] = { ...b, spans };
    for (const s of spans) if (!best || s.text.length > best.text.length) best = s;
  }
  return best && best.text.length > 100 ? best : undefined;
}

function render(blocks: Block[]): Node {
  const content = blocks.map(block).filter((n): n is Node => n !== undefined);
  // A document holds at least one block.
  return { type: "doc", version: 1, content: content.length ? content : [{ type: "paragraph", content: [] }] };
}

function block(b: Block): Node | undefined {
  switch (b.type) {
    case "heading":
      return b.text ? { type: "heading", attrs: { level: 3 }, content: [{ type: "text", text: b.text }] } : undefined;
    case "paragraph":
      return paragraph(b.spans);
    case "facts":
      return bulletList(b.rows.map((r) => [{ text: `${r.label}: `, strong: true }, ...r.value]));
    case "list":
      return bulletList(b.items);
  }
}

/** A bullet list, or nothing when it has no items (ADF requires at least one). */
function bulletList(items: (Span & { strong?: boolean })[][]): Node | undefined {
  return items.length ? { type: "bulletList", content: items.map((spans) => ({ type: "listItem", content: [paragraph(spans)] })) } : undefined;
}

function paragraph(spans: (Span & { strong?: boolean })[]): Node {
  return { type: "paragraph", content: spans.filter((s) => s.text !== "").map(text) };
}

function text(span: Span & { strong?: boolean }): Node {
  const marks: Node[] = [];
  if (span.href) marks.push({ type: "link", attrs: { href: span.href } });
  // ADF's code mark goes with a link only: a strong label is never code.
  if (span.code) marks.push({ type: "code" });
  else if (span.strong) marks.push({ type: "strong" });
  return marks.length ? { type: "text", text: span.text, marks } : { type: "text", text: span.text };
}
