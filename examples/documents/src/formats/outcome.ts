import { ExtractReason, type ExtractReasonCode } from "../extract-reason.js";
import { UnsupportedCharsetError } from "./decode-text.js";
import type { ExtractedText } from "./extracted-text.js";
import { DocumentTooLargeError } from "./limits.js";

/** A conversion's result as plain data, so that it crosses a thread boundary unchanged (errors lose their class). */
export type ConversionOutcome =
  { ok: true; extracted: ExtractedText } | { ok: false; reason: ExtractReasonCode; message: string };

/** Runs a converter; a failure becomes an outcome with the reason extract reports, never a rejection. */
export async function conversionOutcome(
  convert: () => ExtractedText | Promise<ExtractedText>,
): Promise<ConversionOutcome> {
  try {
    return { ok: true, extracted: await convert() };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof DocumentTooLargeError) return { ok: false, reason: ExtractReason.DocumentTooLarge, message };
    if (err instanceof UnsupportedCharsetError) return { ok: false, reason: ExtractReason.UnsupportedCharset, message };
    return { ok: false, reason: ExtractReason.UnparseableDocument, message };
  }
}
