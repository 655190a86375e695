/** What every format converter returns: the document's plain text and, when the format carries one, its title. */
export interface ExtractedText {
  text: string;
  title?: string;
}

/**
 * Normalizes a converter's raw text so every format chunks and embeds alike: Unix line endings, no
 * trailing spaces, at most one blank line in a row (paragraph breaks are what the chunker looks for),
 * no blank edges. An empty or blank title is dropped rather than reported as "".
 */
export function extractedText(raw: string, title?: string): ExtractedText {
  const text = raw
    .replace(/\r\n?/g, "\n")
    .replace(/[ \t\f\v\u00a0]+$/gm, "")
    .replace(/\n{3,}/g, "\n\n")
    .replace(/^\n+|\s+$/g, "");
  const cleanTitle = title?.replace(/\s+/g, " ").trim();
  return cleanTitle === undefined || cleanTitle === "" ? { text } : { text, title: cleanTitle };
}
