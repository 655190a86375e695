import type { Marked } from "marked";
import type { ExtractedText } from "./extracted-text.js";
import { htmlToText } from "./html.js";

// An instance of our own: the shared `marked` export is global state that any `marked.use()` changes.
let markdown: Marked | undefined;

/**
 * Markdown (GFM) to plain text: rendered to HTML, then through the HTML converter, so headings, emphasis
 * and links keep their words, code blocks keep their code, entities are decoded, and raw HTML embedded in
 * the Markdown (a script tag, say) is dropped exactly as it would be in an HTML document.
 */
export async function markdownToText(source: string): Promise<ExtractedText> {
  // Loaded with the first Markdown document, as the other parsers are with theirs.
  const { Marked } = await import("marked");
  markdown ??= new Marked({ gfm: true });
  return htmlToText(markdown.parse(source, { async: false }));
}
