// The block Patchbay keeps in a pull request description (ticket references): delimited by
// HTML comments, which every forge's Markdown hides, so it can be found and replaced.
export const BLOCK_START = "<!-- patchbay:start -->";
export const BLOCK_END = "<!-- patchbay:end -->";

/** The description with Patchbay's block set to `text`: replaced where it is, else appended. */
export function withAnnotation(description: string, text: string): string {
  const block = `${BLOCK_START}\n${text.trim()}\n${BLOCK_END}`;
  const start = description.indexOf(BLOCK_START);
  const end = description.indexOf(BLOCK_END, start);
  if (start !== -1 && end !== -1) return description.slice(0, start) + block + description.slice(end + BLOCK_END.length);
  return description.trim() ? `${description.trimEnd()}\n\n${block}` : block;
}
