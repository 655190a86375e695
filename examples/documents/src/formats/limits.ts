const MiB = 1024 * 1024;

/**
 * How much of one document extract reads. Past any of these the job fails with `document_too_large`
 * instead of taking the process's memory or the job's whole wall clock. The numbers and how they were
 * chosen are in the README ("Hostile documents").
 */
export const EXTRACT_LIMITS = {
  /**
   * Characters (UTF-16 code units) of text, checked before any normalization runs on it. 2,000,000 is
   * about 1,000 pages, and stays under chunk-embed's 8 MiB input as JSON even at 3 UTF-8 bytes each.
   */
  textChars: 2_000_000,
  /** Entries in a DOCX package (Word writes tens; hundreds with many images). */
  docxEntries: 2_000,
  /** Bytes inflated from a DOCX package, all parts read together: mammoth needs about 25 times this in heap. */
  docxInflatedBytes: 8 * MiB,
  /** Pages of a PDF, as its page tree counts them. */
  pdfPages: 2_000,
  /** Characters of a title kept; a longer one is cut. */
  titleChars: 1_000,
  /** V8 heap (old generation) of each parser thread; running out fails the job as too large. */
  parserHeapMiB: 256,
} as const;

/** The document needs more than EXTRACT_LIMITS allows; the message names the limit and the amount. */
export class DocumentTooLargeError extends Error {
  override readonly name = "DocumentTooLargeError";
}

/** `n` with thousands separators, the way limits are quoted in messages. */
export const formatCount = (n: number): string => n.toLocaleString("en-US");
