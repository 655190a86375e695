import { defineComponent, TerminalError } from "@tessera/worker";
import { UnsupportedCharsetError } from "./formats/decode-text.js";
import type { ExtractedText } from "./formats/extracted-text.js";
import { CONVERTERS, parseContentType, type DocumentFormat } from "./formats/registry.js";

/** Why extract fails a job. Each is terminal: the same bytes fail the same way on every retry. */
export const ExtractReason = {
  UnsupportedContentType: "unsupported_content_type",
  UnsupportedCharset: "unsupported_charset",
  UnparseableDocument: "unparseable_document",
  EmptyDocument: "empty_document",
} as const;

/**
 * The Result's `output.data`. Above 64 KiB of JSON (a long document's text) the runtime stores it in the
 * payload store and the Result carries `output.result_ref` instead; the coordinator's chain hook reads
 * either the same way.
 */
export interface ExtractOutput {
  format: DocumentFormat;
  title?: string;
  /** `text.length`: UTF-16 code units, the unit chunk offsets are counted in downstream. */
  characters: number;
  text: string;
}

const SUPPORTED = [...CONVERTERS.keys()].join(", ");

/** Document bytes in, plain text out; the format comes from the job's content type. */
export default defineComponent<ExtractOutput>({
  name: "extract",
  version: "0.1.0",
  concurrency: 2,
  async handle(ctx) {
    const { mediaType, charset } = parseContentType(ctx.job.content_type);
    const converter = CONVERTERS.get(mediaType);
    if (converter === undefined) {
      throw new TerminalError(
        ExtractReason.UnsupportedContentType,
        `content type ${JSON.stringify(ctx.job.content_type)} is not one extract reads; submit one of: ${SUPPORTED}`,
      );
    }
    const bytes = await ctx.input.bytes();
    let extracted: ExtractedText;
    try {
      extracted = await converter.convert(bytes, charset, ctx.signal);
    } catch (err) {
      // Out of time or shutting down: the runtime has settled the job already, and it is not the document's fault.
      if (ctx.signal.aborted) throw err;
      if (err instanceof UnsupportedCharsetError)
        throw new TerminalError(ExtractReason.UnsupportedCharset, err.message, { cause: err });
      throw new TerminalError(
        ExtractReason.UnparseableDocument,
        `the ${bytes.byteLength}-byte input is not a readable ${converter.format} document (content type ${ctx.job.content_type}): ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    if (extracted.text === "") {
      const hint = converter.format === "pdf" ? " (a scanned PDF has no text layer: run OCR on it first)" : "";
      throw new TerminalError(ExtractReason.EmptyDocument, `the ${converter.format} document contains no text${hint}`);
    }
    return {
      format: converter.format,
      ...(extracted.title !== undefined ? { title: extracted.title } : {}),
      characters: extracted.text.length,
      text: extracted.text,
    };
  },
});
