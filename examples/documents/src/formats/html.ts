import type { HtmlToTextOptions, SelectorDefinition } from "html-to-text";
import { extractedText, type ExtractedText } from "./extracted-text.js";

const HEADINGS: SelectorDefinition[] = ["h1", "h2", "h3", "h4", "h5", "h6"].map((selector) => ({
  selector,
  options: { uppercase: false },
}));

const BODY_OPTIONS: HtmlToTextOptions = {
  // Chunk boundaries come from paragraphs and sentences, not from a wrap column.
  wordwrap: false,
  selectors: [
    // Code and markup that is never shown as text; embedding it would make scripts searchable.
    { selector: "script", format: "skip" },
    { selector: "style", format: "skip" },
    { selector: "noscript", format: "skip" },
    { selector: "template", format: "skip" },
    { selector: "img", format: "skip" },
    { selector: "hr", format: "skip" },
    // Keep the link's words, not its URL: URLs are noise to an embedding.
    { selector: "a", options: { ignoreHref: true } },
    // Prefixes like "> " and "*" would read as markup in the extracted text.
    { selector: "blockquote", format: "block" },
    { selector: "ul", options: { itemPrefix: "• " } },
    { selector: "table", format: "dataTable" },
    ...HEADINGS,
  ],
};

const TITLE_OPTIONS: HtmlToTextOptions = {
  wordwrap: false,
  baseElements: { selectors: ["title", "h1"], orderBy: "selectors", returnDomByDefault: false },
  limits: { maxBaseElements: 1 },
  selectors: HEADINGS,
};

/** HTML to plain text: visible text only (no script, style or URLs), entities decoded; the title from `<title>`, else the first `<h1>`. */
export async function htmlToText(html: string): Promise<ExtractedText> {
  // Loaded with the first HTML or Markdown document: a parser thread that only reads PDFs never loads it.
  const { convert } = await import("html-to-text");
  return extractedText(convert(html, BODY_OPTIONS), convert(html, TITLE_OPTIONS));
}
