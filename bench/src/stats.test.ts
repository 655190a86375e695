import { describe, expect, it } from "vitest";
import { median, summarize } from "./stats.js";

describe("summarize", () => {
  it("takes nearest-rank percentiles", () => {
    const samples = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(summarize(samples)).toEqual({ count: 100, p50: 50, p99: 99, max: 100 });
  });
  it("reports an empty sample as NaN, not zero", () => {
    expect(summarize([]).p99).toBeNaN();
  });
  it("takes the middle of an even sample as the mean of the two middle values", () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
