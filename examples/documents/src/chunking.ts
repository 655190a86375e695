/** One chunk: `text` is exactly `source.slice(start, end)`, so offsets always point back into the source. */
export interface Chunk {
  index: number;
  start: number;
  end: number;
  text: string;
}

export interface ChunkOptions {
  /** The longest chunk, in UTF-16 code units (string indices). */
  maxChars: number;
  /** How far each chunk reaches back into the previous one, so a sentence cut at a boundary is whole in one of them. Below maxChars. */
  overlap: number;
}

// Break points, best first. Each regex matches the separator; a chunk ends right after it.
const BREAKS = [
  /\n[ \t]*\n\s*/g, // paragraph
  /[.!?…]["'”’)\]]*\s+/g, // sentence
  /\s+/g, // word
];

/**
 * Splits `source` into chunks of at most `maxChars`, ending each at the last paragraph break in its
 * window, else the last sentence end, else the last space — but only past the window's middle, so a short
 * heading does not become a chunk of its own — and cutting hard inside a word only when none of those
 * exist. Consecutive chunks overlap by about `overlap` (moved forward to the next word start). Together
 * the chunks cover every character of `source`; the same input always gives the same chunks.
 */
export function chunkText(source: string, options: ChunkOptions): Chunk[] {
  const { maxChars, overlap } = options;
  if (!Number.isInteger(maxChars) || maxChars < 1)
    throw new RangeError(`chunkText: maxChars: expected an integer >= 1, got ${maxChars}`);
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= maxChars) {
    throw new RangeError(
      `chunkText: overlap: expected an integer from 0 to maxChars - 1 (${maxChars - 1}), got ${overlap}`,
    );
  }
  const chunks: Chunk[] = [];
  let start = 0;
  while (start < source.length) {
    const end = chunkEnd(source, start, maxChars);
    chunks.push({ index: chunks.length, start, end, text: source.slice(start, end) });
    if (end === source.length) break;
    start = nextStart(source, start, end, overlap);
  }
  return chunks;
}

function chunkEnd(source: string, start: number, maxChars: number): number {
  const limit = start + maxChars;
  if (limit >= source.length) return source.length;
  const window = source.slice(start, limit);
  const minLength = Math.floor(maxChars / 2);
  for (const pattern of BREAKS) {
    const length = lastBreak(window, pattern);
    if (length > minLength) return start + length;
  }
  // Never split a surrogate pair when the window leaves room to step back.
  return isHighSurrogate(source.charCodeAt(limit - 1)) && limit - 1 > start ? limit - 1 : limit;
}

/** The end of the last match of `pattern` in `window` (0 when none), i.e. the length of the chunk that ends there. */
function lastBreak(window: string, pattern: RegExp): number {
  let end = 0;
  for (const match of window.matchAll(pattern)) end = match.index + match[0].length;
  return end;
}

function nextStart(source: string, start: number, end: number, overlap: number): number {
  // Always strictly after `start` (progress) and at most `end` (no gap).
  const from = Math.max(end - overlap, start + 1);
  if (from === end) return end;
  // Searched within the overlap only: scanning on past `end` would make input without spaces quadratic.
  const wordStart = /\s\S/.exec(source.slice(from - 1, end));
  if (wordStart !== null) return from + wordStart.index;
  return isLowSurrogate(source.charCodeAt(from)) && from + 1 < end ? from + 1 : from;
}

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;
