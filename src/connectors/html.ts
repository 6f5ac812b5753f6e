// Patchbay's neutral ticket text as HTML, for trackers whose rich text fields take HTML
// (Azure DevOps, ServiceNow journal fields). Everything from findings is escaped.
import type { Block, Span } from "./types.js";

export function toHtml(blocks: Block[], maxChars = 30_000): string {
  const out: string[] = [];
  let length = 0;
  for (const block of blocks) {
    const html = render(block);
    if (length + html.length > maxChars) {
      out.push("<p>… more in Patchbay.</p>");
      break;
    }
    out.push(html);
    length += html.length;
  }
  return out.join("");
}

function render(b: Block): string {
  switch (b.type) {
    case "heading":
      return `<h3>${escapeHtml(b.text)}</h3>`;
    case "paragraph":
      return `<p>${spans(b.spans)}</p>`;
    case "facts":
      return `<ul>${b.rows.map((r) => `<li><b>${escapeHtml(r.label)}:</b> ${spans(r.value)}</li>`).join("")}</ul>`;
    case "list":
      return `<ul>${b.items.map((item) => `<li>${spans(item)}</li>`).join("")}</ul>`;
  }
}

function spans(list: Span[]): string {
  return list
    .filter((s) => s.text !== "")
    .map((s) => {
      const text = s.code ? `<code>${escapeHtml(s.text)}</code>` : escapeHtml(s.text);
      return s.href && /^https?:\/\//.test(s.href) ? `<a href="${escapeHtml(s.href)}">${text}</a>` : text;
    })
    .join("");
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
