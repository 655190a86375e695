import mammoth from "mammoth";
import { extractedText, type ExtractedText } from "./extracted-text.js";

/** DOCX (Office Open XML) to plain text: one paragraph per paragraph. Rejects bytes that are not a DOCX package. */
export async function docxToText(bytes: Uint8Array): Promise<ExtractedText> {
  const { value } = await mammoth.extractRawText({
    buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  });
  return extractedText(value);
}
