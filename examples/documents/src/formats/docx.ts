import { openDocxPackage } from "./docx-package.js";
import { extractedText, type ExtractedText } from "./extracted-text.js";

/**
 * DOCX (Office Open XML) to plain text: one paragraph per paragraph. Rejects bytes that are not a DOCX
 * package, and packages past EXTRACT_LIMITS (see openDocxPackage) before mammoth parses anything.
 */
export async function docxToText(bytes: Uint8Array): Promise<ExtractedText> {
  const file = await openDocxPackage(bytes);
  // Loaded with the first DOCX, as the other parsers are with theirs: mammoth alone takes most of a second.
  const { default: mammoth } = await import("mammoth");
  // mammoth reads a `file` (lib/unzip.js) instead of unzipping the buffer itself with JSZip, which would
  // inflate every part whole, with no limit; its type declarations only know path, buffer and arrayBuffer.
  const { value } = await mammoth.extractRawText({ file } as unknown as { buffer: Buffer });
  return extractedText(value);
}
