// Patchbay's neutral ticket text as Jira wiki markup: what Jira Data Center's REST v2 takes
// for descriptions and comments (Cloud's v3 takes ADF instead). Kept inside the same
// 32,767-character limit, dropping list items from the end as the ADF renderer does.
import type { Block, Span } from "../types.js";
import { MAX_DOCUMENT_CHARS } from "./adf.js";

export function toWiki(blocks: Block[]): string {
  const trimmed = blocks.map((b) => (b.type === "list" ? { ...b, items: [...b.items] } : b));
  let text = render(trimmed);
  while (text.length > MAX_DOCUMENT_CHARS) {
    const list = [...trimmed].reverse().find((b): b is Extract<Block, { type: "list" }> => b.type === "list" && b.items.length > 1);
    if (!list) return text.slice(0, MAX_DOCUMENT_CHARS - 1) + "…";
    list.items.splice(Math.max(1, Math.floor(list.items.length * 0.8)));
    list.items.push([{ text: "… more in Patchbay." }]);
    text = render(trimmed);
  }
  return text;
}

function render(blocks: Block[]): string {
  return blocks
    .map((b) => {
      switch (b.type) {
        case "heading":
          return b.text ? `h3. ${escape(b.text)}` : "";
        case "paragraph":
          return spans(b.spans);
        case "facts":
          return b.rows.map((r) => `*${escape(r.label)}:* ${spans(r.value)}`).join("\n");
        case "list":
          return b.items.map((i) => `* ${spans(i)}`).join("\n");
      }
    })
    .filter(Boolean)
    .join("\n\n");
}

function spans(list: Span[]): string {
  return list
    .map((s) => {
      const text = s.code ? `{{${s.text.replace(/[{}]/g, "")}}}` : escape(s.text);
      return s.href && /^https?:\/\//.test(s.href) ? `[${text.replace(/[[\]|]/g, "")}|${s.href.replace(/[\]|\s]/g, encodeURIComponent)}]` : text;
    })
    .join("");
}

/** Characters wiki markup would read as formatting. */
function escape(text: string): string {
  return text.replace(/([\\{}[\]|*_^~+?#-])/g, (ch) => (ch === "-" || ch === "#" ? ch : `\\${ch}`));
}
