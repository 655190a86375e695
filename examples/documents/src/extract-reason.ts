/** Why extract fails a job. Each is terminal: the same bytes fail the same way on every retry. */
export const ExtractReason = {
  UnsupportedContentType: "unsupported_content_type",
  UnsupportedCharset: "unsupported_charset",
  UnparseableDocument: "unparseable_document",
  EmptyDocument: "empty_document",
  /** Past one of EXTRACT_LIMITS (src/formats/limits.ts): inflated bytes, entries, pages, text or the parser's heap. */
  DocumentTooLarge: "document_too_large",
} as const;
export type ExtractReasonCode = (typeof ExtractReason)[keyof typeof ExtractReason];
