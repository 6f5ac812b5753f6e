// Patchbay's neutral ticket text as Atlassian Document Format (the only rich text Jira's
// REST v3 accepts), kept inside Jira's 32,767-character limit for a description.
import type { Block, Span } from "../types.js";

type Node = Record<string, unknown>;

export const MAX_DOCUMENT_CHARS = 32_767;

export function toAdf(blocks: Block[]): Node {
  let doc = render(blocks);
  // Too long: drop list items from the end (the ticket links back to Patchbay for the rest).
  const trimmed = blocks.map((b) => (b.type === "list" ? { ...b, items: [...b.items] } : b));
  while (JSON.stringify(doc).length > MAX_DOCUMENT_CHARS) {
    const list = [...trimmed].reverse().find((b): b is Extract<Block, { type: "list" }> => b.type === "list" && b.items.length > 1);
    if (!list) break;
    list.items.splice(Math.max(1, Math.floor(list.items.length * 0.8)));
    list.items.push([{ text: "… more in Patchbay." }]);
    doc = render(trimmed);
  }
  return doc;
}

function render(blocks: Block[]): Node {
  return { type: "doc", version: 1, content: blocks.map(block).filter((n): n is Node => n !== undefined) };
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

function bulletList(items: (Span & { strong?: boolean })[][]): Node {
  return { type: "bulletList", content: items.map((spans) => ({ type: "listItem", content: [paragraph(spans)] })) };
}

function paragraph(spans: (Span & { strong?: boolean })[]): Node {
  return { type: "paragraph", content: spans.filter((s) => s.text !== "").map(text) };
}

function text(span: Span & { strong?: boolean }): Node {
  const marks: Node[] = [];
  if (span.href) marks.push({ type: "link", attrs: { href: span.href } });
  if (span.code) marks.push({ type: "code" });
  if (span.strong) marks.push({ type: "strong" });
  return marks.length ? { type: "text", text: span.text, marks } : { type: "text", text: span.text };
}
