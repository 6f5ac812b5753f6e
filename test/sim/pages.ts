// The web page a simulated tracker shows for one of its tickets, so a link from Patchbay (in
// the demo, through PATCHBAY_ORIGIN_MAP) opens something a person can read. Plain HTML; every
// value is escaped.
const escape = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export function ticketPage(page: { service: string; key: string; title: string; facts: [string, string][]; body: string; comments: string[] }): string {
  const facts = page.facts.map(([k, v]) => `<dt>${escape(k)}</dt><dd>${escape(v)}</dd>`).join("");
  const comments = page.comments.map((c) => `<li><pre>${escape(c)}</pre></li>`).join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(page.key)} · ${escape(page.service)} (simulator)</title>
<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}pre{white-space:pre-wrap;background:#f3f4f7;padding:.5rem}dt{font-weight:600}</style></head>
<body><p>${escape(page.service)} simulator</p><h1>${escape(page.key)}: ${escape(page.title)}</h1><dl>${facts}</dl><h2>Description</h2><pre>${escape(page.body)}</pre>
<h2>Comments</h2>${comments ? `<ol>${comments}</ol>` : "<p>None.</p>"}</body></html>`;
}

/** The text of an Atlassian Document Format value, or the value itself when it is text. */
export function plainText(value: unknown): string {
  if (typeof value === "string") return value;
  if (!value || typeof value !== "object") return "";
  const node = value as { text?: string; content?: unknown[]; type?: string };
  const inner = (node.content ?? []).map(plainText).join(node.type === "doc" || node.type === "bulletList" ? "\n" : "");
  return (node.text ?? "") + inner + (node.type === "paragraph" || node.type === "heading" || node.type === "listItem" ? "\n" : "");
}
