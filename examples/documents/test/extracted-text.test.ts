import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { extractedText, normalizeText } from "../src/formats/extracted-text.js";
import { DocumentTooLargeError, EXTRACT_LIMITS } from "../src/formats/limits.js";

/** The regexes normalizeText replaced: the reference for what it must do, quadratic on long runs of spaces. */
const regexNormalize = (raw: string): string =>
  raw
    .replace(/\r\n?/g, "\n")
    .replace(/[ \t\f\v\u00a0]+$/gm, "")
    .replace(/\n{3,}/g, "\n\n")
    .replace(/^\n+|\s+$/g, "");

const timed = (run: () => unknown): number => {
  const started = performance.now();
  run();
  return performance.now() - started;
};

describe("normalizeText", () => {
  it("does what the regexes did, on any mix of text, spaces and line breaks", () => {
    const piece = fc.constantFrom("a", "b c", " ", "\t", "\f", "\v", "\u00a0", "\u3000", "\n", "\r", "\r\n");
    const rare = fc.constantFrom("\u2028", "\u2029", "\ufeff", "\u0085");
    const text = fc.array(fc.oneof({ weight: 9, arbitrary: piece }, { weight: 1, arbitrary: rare }), { maxLength: 40 });
    fc.assert(
      fc.property(text, (pieces) => {
        const raw = pieces.join("");
        expect(normalizeText(raw)).toBe(regexNormalize(raw));
      }),
      { numRuns: 2_000 },
    );
  });

  it("keeps one blank line between paragraphs and none at the edges", () => {
    expect(normalizeText("\n\n  \nTitle  \r\n\r\n\r\n\tBody\u00a0\u00a0\nmore\n\n \n")).toBe("Title\n\n\tBody\nmore");
  });

  // Each took seconds with the regexes (40,000 spaces: 11.6 s); linear code takes milliseconds.
  it.each([
    ["40,000 spaces inside a line", `before${" ".repeat(40_000)}after`],
    ["40,000 tabs inside a line", `before${"\t".repeat(40_000)}after`],
    ["40,000 no-break spaces inside a line", `before${"\u00a0".repeat(40_000)}after`],
    ["40,000 spaces before a line separator", `before${" ".repeat(40_000)}\u2028after`],
    ["40,000 ideographic spaces at the end", `before${"\u3000".repeat(40_000)}x`],
    ["20,000 lines of one space", `before${"\n ".repeat(20_000)}after`],
    ["a million spaces and a word", `${" ".repeat(1_000_000)}x`],
  ])("is linear on %s", (_shape, raw) => {
    expect(timed(() => normalizeText(raw))).toBeLessThan(200);
  });
});

describe("extractedText", () => {
  it("refuses text over the limit before normalizing it", () => {
    const raw = " ".repeat(EXTRACT_LIMITS.textChars) + "x";
    expect(() => extractedText(raw)).toThrow(DocumentTooLargeError);
    expect(() => extractedText(raw)).toThrow(/2,000,001 characters or more, over the limit of 2,000,000/);
    expect(extractedText(raw.slice(1)).text).toBe(" ".repeat(EXTRACT_LIMITS.textChars - 1) + "x");
  });

  it("collapses the title's whitespace, drops a blank one and cuts a long one (not through a surrogate pair)", () => {
    expect(extractedText("x", "  A\n\ttitle ")).toEqual({ text: "x", title: "A title" });
    expect(extractedText("x", " \n ")).toEqual({ text: "x" });
    const long = `${"t".repeat(EXTRACT_LIMITS.titleChars - 1)}😀 and more`;
    expect(extractedText("x", long).title).toBe("t".repeat(EXTRACT_LIMITS.titleChars - 1));
    expect(extractedText("x", " ".repeat(10_000_000)).title).toBeUndefined();
  });
});
