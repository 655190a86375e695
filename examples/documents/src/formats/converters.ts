import { decodeText } from "./decode-text.js";
import { docxToText } from "./docx.js";
import type { ExtractedText } from "./extracted-text.js";
import { htmlToText } from "./html.js";
import { markdownToText } from "./markdown.js";
import { conversionOutcome, type ConversionOutcome } from "./outcome.js";
import { pdfToText } from "./pdf.js";
import { plainText } from "./plain-text.js";
import type { DocumentFormat } from "./registry.js";

type Converter = (bytes: Uint8Array, charset: string | undefined) => ExtractedText | Promise<ExtractedText>;

/** Each format's converter. `charset` is the content type's parameter, if any; binary formats ignore it. */
export const CONVERTERS: Readonly<Record<DocumentFormat, Converter>> = {
  text: plainText,
  html: (bytes, charset) => htmlToText(decodeText(bytes, charset)),
  markdown: (bytes, charset) => markdownToText(decodeText(bytes, charset)),
  docx: docxToText,
  pdf: pdfToText,
};

/**
 * Converts a document of `format` to text; a failure is an outcome, never a rejection. What the parser
 * thread runs (src/parser-thread.ts), never the host: each parser package is loaded with the first
 * document of its format, so a thread that only reads PDFs never loads mammoth.
 */
export function convertDocument(
  format: DocumentFormat,
  bytes: Uint8Array,
  charset: string | undefined,
): Promise<ConversionOutcome> {
  return conversionOutcome(() => CONVERTERS[format](bytes, charset));
}
