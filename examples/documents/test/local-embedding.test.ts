import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { embed, l2Norm } from "../src/local-embedding.js";

const dot = (a: number[], b: number[]): number => a.reduce((sum, v, i) => sum + v * (b[i] ?? 0), 0);

describe("embed (tessera-local-hash-v1)", () => {
  it("gives the same vector for the same text, on every run and machine", () => {
    const vector = embed("The quick brown fox", 8);
    expect(vector).toEqual(embed("The quick brown fox", 8));
    // Pinned: a change here changes every stored vector, so it needs a new model name, not a new test value.
    // (Checked against an independent implementation of the algorithm as documented in local-embedding.ts.)
    // Seven features in eight buckets: three words collide in bucket 7, where "brown"'s minus sign cancels
    // one of the others (the signed hash at work); the pairs add ±0.5 to buckets 0, 3 and 4.
    expect(vector).toEqual([-1, 0, 0, 1, 1, 2, 0, 2].map((v) => v / Math.sqrt(11)));
  });

  it("is L2-normalized, or the zero vector: always for a text without a word", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", minLength: 1 }),
        fc.integer({ min: 1, max: 512 }),
        (text, dimension) => {
          const vector = embed(text, dimension);
          expect(vector).toHaveLength(dimension);
          const norm = l2Norm(vector);
          // Signed weights can cancel out exactly when every feature lands in a few buckets (dimension 1, say).
          if (norm !== 0) expect(norm).toBeCloseTo(1, 9);
          if (!/[\p{L}\p{N}]/u.test(text.normalize("NFKC"))) expect(norm).toBe(0);
        },
      ),
    );
    expect(embed(" ... !!! ", 16)).toEqual(new Array(16).fill(0));
    expect(l2Norm(embed("a a e", 1))).toBe(0);
  });

  it("ignores case, punctuation and Unicode normalization form", () => {
    expect(embed("Café, au LAIT!", 64)).toEqual(embed("cafe\u0301 au lait", 64));
  });

  it("puts texts that share words closer than unrelated texts", () => {
    const query = embed("the invoice payment is due within thirty days", 256);
    const similar = embed("payment of the invoice is due in thirty days", 256);
    const unrelated = embed("chunking splits long documents at paragraph breaks", 256);
    expect(dot(query, similar)).toBeGreaterThan(0.5);
    expect(dot(query, similar)).toBeGreaterThan(dot(query, unrelated) + 0.3);
  });

  it("refuses a dimension that is not a positive integer", () => {
    for (const dimension of [0, -1, 1.5, Number.NaN]) expect(() => embed("text", dimension)).toThrow(RangeError);
  });
});
