export type DocumentFormat = "text" | "html" | "markdown" | "docx" | "pdf";

export const DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/** The media types extract reads, each to its format. */
export const FORMATS: ReadonlyMap<string, DocumentFormat> = new Map([
  ["text/plain", "text"],
  ["text/html", "html"],
  ["text/markdown", "markdown"],
  // The pre-RFC 7763 name, still what many tools send.
  ["text/x-markdown", "markdown"],
  [DOCX_MEDIA_TYPE, "docx"],
  ["application/pdf", "pdf"],
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
