import { checkTextSize, extractedText, type ExtractedText } from "./extracted-text.js";
import { DocumentTooLargeError, EXTRACT_LIMITS, formatCount } from "./limits.js";

/**
 * PDF to plain text with pdf.js (its legacy build, the one meant for Node): the text layer of every page,
 * pages separated by a blank line; the title from the document information. A scanned PDF has no text
 * layer and yields empty text. Rejects bytes that are not a PDF, encrypted PDFs, page trees that list a
 * page twice, and documents past EXTRACT_LIMITS (pages, text).
 *
 * Runs in a parser thread only (src/parser-pool.ts): loading the legacy build replaces the thread's
 * JSON.parse and JSON.stringify with core-js polyfills, and parsing is CPU-bound and synchronous.
 */
export async function pdfToText(bytes: Uint8Array): Promise<ExtractedText> {
  // pdf.js is megabytes of JavaScript: loaded with the first PDF rather than at thread start.
  const { getDocument } = await import("pdfjs-dist/legacy/build/pdf.mjs");
  const task = getDocument({
    // pdf.js transfers the buffer it is given to its worker; the caller's bytes stay intact.
    data: new Uint8Array(bytes),
    // Text extraction needs neither fonts loaded nor code generated from the document.
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    // Errors only: a malformed but readable PDF is not worth a line of log per glyph.
    verbosity: 0,
  });
  try {
    const doc = await task.promise;
    // The page tree's own /Count: 2.5 KB of nodes that each list one child twice count a million pages.
    if (doc.numPages > EXTRACT_LIMITS.pdfPages)
      throw new DocumentTooLargeError(
        `the page tree counts ${formatCount(doc.numPages)} pages, over the limit of ${formatCount(EXTRACT_LIMITS.pdfPages)}`,
      );
    const pages: string[] = [];
    const pageObjects = new Set<string>();
    let characters = 0;
    for (let number = 1; number <= doc.numPages; number++) {
      const page = await doc.getPage(number);
      // A page tree is a tree: a node reached twice (the same kid listed twice, a subtree shared by two
      // parents) would be read again for every path to it, which is how a small file counts a million pages.
      const ref = page.ref === null ? undefined : `${page.ref.num} ${page.ref.gen} R`;
      if (ref !== undefined && pageObjects.has(ref))
        throw new Error(
          `the page tree reaches page object ${ref} again as page ${number}; a page may appear only once`,
        );
      if (ref !== undefined) pageObjects.add(ref);
      const content = await page.getTextContent();
      const text = content.items.map((item) => ("str" in item ? item.str + (item.hasEOL ? "\n" : "") : "")).join("");
      page.cleanup();
      // Checked as pages come (with the blank line between them), so a document far over the limit
      // stops at the page that crosses it.
      characters += (pages.length > 0 ? 2 : 0) + text.length;
      checkTextSize(characters);
      pages.push(text);
    }
    const { info } = await doc.getMetadata();
    const title = (info as { Title?: unknown } | undefined)?.Title;
    return extractedText(pages.join("\n\n"), typeof title === "string" ? title : undefined);
  } finally {
    await task.destroy();
  }
}
