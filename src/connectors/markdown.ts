// Patchbay's neutral ticket text as Markdown, for trackers that take it (GitHub, GitLab).
// Text from findings is escaped so a package name cannot turn into a link, a mention or HTML.
import type { Block, Span } from "./types.js";

export function toMarkdown(blocks: Block[], maxChars = 60_000): string {
  const out: string[] = [];
  let length = 0;
  for (const block of blocks) {
    const text = render(block);
    if (length + text.length > maxChars) {
      out.push("… more in Patchbay.");
      break;
    }
    out.push(text);
    length += text.length + 2;
  }
  return out.join("\n\n");
}

function render(b: Block): string {
  switch (b.type) {
    case "heading":
      return `### ${escape(b.text)}`;
    case "paragraph":
      return spans(b.spans);
    case "facts":
      return b.rows.map((r) => `- **${escape(r.label)}:** ${spans(r.value)}`).join("\n");
    case "list":
      return b.items.map((item) => `- ${spans(item)}`).join("\n");
  }
}

function spans(list: Span[]): string {
  return list
    .filter((s) => s.text !== "")
    .map((s) => {
      const text = s.code ? `\`${s.text.replace(/`/g, "'")}\`` : escape(s.text);
      return s.href ? `[${text}](${s.href.replace(/[()\s]/g, encodeURIComponent)})` : text;
    })
    .join("");
}

/** Markdown and HTML metacharacters, and @mentions, made inert. */
export function escape(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+!|<>~]/g, (c) => `\\${c}`).replace(/@/g, "@\u200b");
}
