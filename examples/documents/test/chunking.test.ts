import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunkText, type Chunk, type ChunkOptions } from "../src/chunking.js";

// Text shaped like documents: words, sentence ends, paragraph breaks, long runs without spaces, surrogate pairs.
const pieces = fc.constantFrom(
  "word",
  "a",
  "longerword",
  " ",
  " ",
  "  ",
  ". ",
  "! ",
  "\n",
  "\n\n",
  "\n \n",
  "Ünïcödé",
  "😀",
  "x".repeat(30),
  "\t",
);
const documentText = fc.oneof(
  fc.array(pieces, { maxLength: 200 }).map((p) => p.join("")),
  fc.string({ unit: "binary", maxLength: 300 }),
);
const chunkOptions = fc
  .integer({ min: 1, max: 120 })
  .chain((maxChars) =>
    fc.record({ maxChars: fc.constant(maxChars), overlap: fc.integer({ min: 0, max: maxChars - 1 }) }),
  );

function covered(text: string, chunks: Chunk[]): boolean {
  let reach = 0;
  for (const chunk of chunks) {
    if (chunk.start > reach) return false;
    reach = Math.max(reach, chunk.end);
  }
  return reach === text.length;
}

describe("chunkText", () => {
  it("covers every character, exceeds no maximum, slices the source exactly and always moves forward", () => {
    fc.assert(
      fc.property(documentText, chunkOptions, (text, options) => {
        const chunks = chunkText(text, options);
        expect(covered(text, chunks)).toBe(true);
        chunks.forEach((chunk, i) => {
          expect(chunk.index).toBe(i);
          expect(chunk.end - chunk.start).toBeGreaterThan(0);
          expect(chunk.end - chunk.start).toBeLessThanOrEqual(options.maxChars);
          expect(chunk.text).toBe(text.slice(chunk.start, chunk.end));
          if (i > 0) expect(chunk.start).toBeGreaterThan((chunks[i - 1] as Chunk).start);
        });
      }),
      { numRuns: 500 },
    );
  });

  it("is deterministic", () => {
    fc.assert(
      fc.property(documentText, chunkOptions, (text, options) => {
        expect(chunkText(text, options)).toEqual(chunkText(text, options));
      }),
    );
  });

  it("never overlaps by more than asked", () => {
    fc.assert(
      fc.property(documentText, chunkOptions, (text, options) => {
        const chunks = chunkText(text, options);
        for (let i = 1; i < chunks.length; i++)
          expect((chunks[i - 1] as Chunk).end - (chunks[i] as Chunk).start).toBeLessThanOrEqual(options.overlap);
      }),
    );
  });

  it("gives nothing for empty text and one chunk for text that fits", () => {
    expect(chunkText("", { maxChars: 10, overlap: 2 })).toEqual([]);
    expect(chunkText("short", { maxChars: 10, overlap: 2 })).toEqual([{ index: 0, start: 0, end: 5, text: "short" }]);
  });

  it("cuts at a paragraph break before a sentence end, and at a sentence end before a space", () => {
    const text = "First sentence here. Second one goes on.\n\nNew paragraph starts and runs long enough.";
    const [first] = chunkText(text, { maxChars: 60, overlap: 0 });
    expect(first?.text).toBe("First sentence here. Second one goes on.\n\n");
    const [firstSentence] = chunkText("Alpha beta gamma delta. Epsilon zeta eta theta iota kappa.", {
      maxChars: 40,
      overlap: 0,
    });
    expect(firstSentence?.text).toBe("Alpha beta gamma delta. ");
  });

  it("does not cut before the middle of the window: a short heading travels with its paragraph", () => {
    const text = "Heading\n\nThe paragraph under the heading is long. It has two sentences.";
    expect(chunkText(text, { maxChars: 50, overlap: 0 })[0]?.text).toBe(
      "Heading\n\nThe paragraph under the heading is long. ",
    );
  });

  it("starts an overlapping chunk at a word, not inside one", () => {
    const chunks = chunkText("one two three four five six seven eight nine ten", { maxChars: 20, overlap: 8 });
    for (const chunk of chunks.slice(1)) expect(chunk.text).toMatch(/^\S/);
    expect(chunks.map((c) => c.text)).toEqual(["one two three four ", "four five six seven ", "seven eight nine ten"]);
  });

  it("cuts text without spaces hard at the maximum, and not inside a surrogate pair", () => {
    expect(chunkText("abcdefghij", { maxChars: 4, overlap: 1 }).map((c) => c.text)).toEqual(["abcd", "defg", "ghij"]);
    expect(chunkText("ab😀cd", { maxChars: 3, overlap: 0 }).map((c) => c.text)).toEqual(["ab", "😀c", "d"]);
  });

  it("refuses options that cannot make progress", () => {
    const bad: ChunkOptions[] = [
      { maxChars: 0, overlap: 0 },
      { maxChars: 10, overlap: 10 },
      { maxChars: 10, overlap: -1 },
      { maxChars: 2.5, overlap: 0 },
    ];
    for (const options of bad) expect(() => chunkText("text", options)).toThrow(RangeError);
  });
});
