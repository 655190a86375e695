import { defineComponent, TerminalError } from "@tessera/worker";
import { ExtractReason } from "./extract-reason.js";
import { conversionOutcome } from "./formats/outcome.js";
import { plainText } from "./formats/plain-text.js";
import { FORMATS, parseContentType, type DocumentFormat } from "./formats/registry.js";
import { createParserPool } from "./parser-pool.js";

export { ExtractReason } from "./extract-reason.js";

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

const CONCURRENCY = 2;
const SUPPORTED = [...FORMATS.keys()].join(", ");
// One parser thread per job extract runs at once.
const parsers = createParserPool({ threads: CONCURRENCY });

/** Document bytes in, plain text out; the format comes from the job's content type. */
export default defineComponent<ExtractOutput>({
  name: "extract",
  version: "0.1.0",
  concurrency: CONCURRENCY,
  async handle(ctx) {
    const { mediaType, charset } = parseContentType(ctx.job.content_type);
    const format = FORMATS.get(mediaType);
    if (format === undefined) {
      throw new TerminalError(
        ExtractReason.UnsupportedContentType,
        `content type ${JSON.stringify(ctx.job.content_type)} is not one extract reads; submit one of: ${SUPPORTED}`,
      );
    }
    const bytes = await ctx.input.bytes();
    // Plain text is decoding and linear normalization of at most EXTRACT_LIMITS.textChars: milliseconds,
    // cheaper than handing it to a thread. Every other format is a third-party parser: a parser thread.
    // What rejects here is not the document's fault and propagates as it is: an abort (out of time or
    // shutting down; the runtime has settled the job already) or a ParserThreadError (retried).
    const outcome =
      format === "text"
        ? await conversionOutcome(() => plainText(bytes, charset))
        : await parsers.convert({ format, bytes, charset }, ctx.signal);
    if (!outcome.ok) {
      const detail =
        outcome.reason === ExtractReason.UnparseableDocument
          ? `the ${bytes.byteLength}-byte input is not a readable ${format} document (content type ${ctx.job.content_type}): ${outcome.message}`
          : outcome.reason === ExtractReason.DocumentTooLarge
            ? `the ${format} document is more than extract reads: ${outcome.message}`
            : outcome.message;
      throw new TerminalError(outcome.reason, detail);
    }
    const { extracted } = outcome;
    if (extracted.text === "") {
      const hint = format === "pdf" ? " (a scanned PDF has no text layer: run OCR on it first)" : "";
      throw new TerminalError(ExtractReason.EmptyDocument, `the ${format} document contains no text${hint}`);
    }
    return {
      format,
      ...(extracted.title !== undefined ? { title: extracted.title } : {}),
      characters: extracted.text.length,
      text: extracted.text,
    };
  },
});
