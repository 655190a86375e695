import { extractedText, type ExtractedText } from "./extracted-text.js";

/**
 * PDF to plain text with pdf.js (its legacy build, the one meant for Node): the text layer of every page,
 * pages separated by a blank line; the title from the document information. A scanned PDF has no text
 * layer and yields empty text. Rejects bytes that are not a PDF, and encrypted PDFs. `signal` stops the
 * parse between pages (a large PDF can take longer than the job's wall clock) and rejects with its reason.
 */
export async function pdfToText(bytes: Uint8Array, signal?: AbortSignal): Promise<ExtractedText> {
  // pdf.js is megabytes of JavaScript: loaded with the first PDF rather than at worker start, which
  // matters for a component that scales from zero replicas. Later calls get the cached module.
  const { getDocument } = await import("pdfjs-dist/legacy/build/pdf.mjs");
  signal?.throwIfAborted();
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
  const stop = (): void => void task.destroy();
  signal?.addEventListener("abort", stop, { once: true });
  try {
    const doc = await task.promise;
    const pages: string[] = [];
    for (let number = 1; number <= doc.numPages; number++) {
      signal?.throwIfAborted();
      const page = await doc.getPage(number);
      const content = await page.getTextContent();
      pages.push(content.items.map((item) => ("str" in item ? item.str + (item.hasEOL ? "\n" : "") : "")).join(""));
      page.cleanup();
    }
    const { info } = await doc.getMetadata();
    const title = (info as { Title?: unknown } | undefined)?.Title;
    return extractedText(pages.join("\n\n"), typeof title === "string" ? title : undefined);
  } catch (err) {
    // Destroying the task on abort rejects pending calls with pdf.js's own error; report the abort instead.
    signal?.throwIfAborted();
    throw err;
  } finally {
    signal?.removeEventListener("abort", stop);
    await task.destroy();
  }
}
