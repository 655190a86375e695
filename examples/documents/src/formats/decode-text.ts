/** The charset named in the content type is one this runtime cannot decode. */
export class UnsupportedCharsetError extends Error {
  override readonly name = "UnsupportedCharsetError";
}

/**
 * Decodes a text document in `charset` (UTF-8 when the content type names none). Fatal on malformed
 * bytes: silently replacing them with U+FFFD would embed garbage that no one ever sees.
 * Throws UnsupportedCharsetError for a charset label the runtime does not know, TypeError for bytes
 * that are not valid in the charset.
 */
export function decodeText(bytes: Uint8Array, charset = "utf-8"): string {
  return decoderFor(charset).decode(bytes);
}

function decoderFor(charset: string): InstanceType<typeof TextDecoder> {
  try {
    return new TextDecoder(charset, { fatal: true });
  } catch (err) {
    throw new UnsupportedCharsetError(
      `charset ${JSON.stringify(charset)} is not supported; send the document as UTF-8`,
      { cause: err },
    );
  }
}
