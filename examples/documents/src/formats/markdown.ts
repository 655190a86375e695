import { Marked } from "marked";
import type { ExtractedText } from "./extracted-text.js";
import { htmlToText } from "./html.js";

// An instance of our own: the shared `marked` export is global state that any `marked.use()` changes.
const markdown = new Marked({ gfm: true });

/**
 * Markdown (GFM) to plain text: rendered to HTML, then through the HTML converter, so headings, emphasis
 * and links keep their words, code blocks keep their code, entities are decoded, and raw HTML embedded in
 * the Markdown (a script tag, say) is dropped exactly as it would be in an HTML document.
 */
export function markdownToText(source: string): ExtractedText {
  return htmlToText(markdown.parse(source, { async: false }));
}
