import { decodeText } from "./decode-text.js";
import { docxToText } from "./docx.js";
import { extractedText, type ExtractedText } from "./extracted-text.js";
import { htmlToText } from "./html.js";
import { markdownToText } from "./markdown.js";
import { pdfToText } from "./pdf.js";

export type DocumentFormat = "text" | "html" | "markdown" | "docx" | "pdf";

export interface FormatConverter {
  format: DocumentFormat;
  /** `charset` is the content type's parameter, if any; binary formats ignore it. `signal` aborts a slow conversion. */
  convert(bytes: Uint8Array, charset: string | undefined, signal?: AbortSignal): ExtractedText | Promise<ExtractedText>;
}

export const DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

const TEXT: FormatConverter = {
  format: "text",
  convert: (bytes, charset) => extractedText(decodeText(bytes, charset)),
};
const MARKDOWN: FormatConverter = {
  format: "markdown",
  convert: (bytes, charset) => markdownToText(decodeText(bytes, charset)),
};

/** The media types extract reads, each to its converter. */
export const CONVERTERS: ReadonlyMap<string, FormatConverter> = new Map([
  ["text/plain", TEXT],
  ["text/html", { format: "html", convert: (bytes, charset) => htmlToText(decodeText(bytes, charset)) }],
  ["text/markdown", MARKDOWN],
  // The pre-RFC 7763 name, still what many tools send.
  ["text/x-markdown", MARKDOWN],
  [DOCX_MEDIA_TYPE, { format: "docx", convert: (bytes) => docxToText(bytes) }],
  ["application/pdf", { format: "pdf", convert: (bytes, _charset, signal) => pdfToText(bytes, signal) }],
]);

/** A Content-Type value split into its lower-cased media type and its charset parameter (RFC 9110 §8.3). */
export function parseContentType(contentType: string): { mediaType: string; charset?: string } {
  const [type = "", ...params] = contentType.split(";");
  const mediaType = type.trim().toLowerCase();
  for (const param of params) {
    const eq = param.indexOf("=");
    if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== "charset") continue;
    const charset = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, "$1");
    if (charset !== "") return { mediaType, charset };
  }
  return { mediaType };
}
