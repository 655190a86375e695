import { decodeText } from "./decode-text.js";
import { extractedText, type ExtractedText } from "./extracted-text.js";

/** Plain text in the content type's charset: decoded (malformed bytes refused), then normalized. */
export function plainText(bytes: Uint8Array, charset: string | undefined): ExtractedText {
  return extractedText(decodeText(bytes, charset));
}
