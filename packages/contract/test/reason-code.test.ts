import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isReasonCode, reasonCodeProblem, sanitizeReasonDetail } from "@tessera/contract";

describe("reason codes", () => {
  it("accepts the documented charset up to 64 bytes", () => {
    expect(isReasonCode("timeout")).toBe(true);
    expect(isReasonCode("http:429.retry-after_x")).toBe(true);
    expect(isReasonCode("a".repeat(64))).toBe(true);
  });
  it("says what is wrong", () => {
    expect(reasonCodeProblem("a".repeat(65))).toBe("expected at most 64 bytes, got 65");
    expect(reasonCodeProblem("Upper")).toMatch(/\[a-z0-9_:.-\]/);
    expect(reasonCodeProblem("")).toMatch(/non-empty/);
    expect(reasonCodeProblem(3)).toMatch(/string/);
    expect(isReasonCode("é")).toBe(false);
  });
});

describe("sanitizeReasonDetail", () => {
  it("strips control characters but keeps tabs and newlines", () => {
    expect(sanitizeReasonDetail("a\u0000b\u001bc\td\ne\u007f")).toBe("abc\td\ne");
  });
  it("replaces lone surrogates so the result is valid UTF-8", () => {
    expect(sanitizeReasonDetail("x\ud800y")).toBe("x\ufffdy");
  });
  it("decodes bytes that are not UTF-8 without throwing", () => {
    expect(sanitizeReasonDetail(new Uint8Array([0x61, 0xff, 0x62]))).toBe("a\ufffdb");
  });
  it("renders errors and objects", () => {
    expect(sanitizeReasonDetail(new Error("boom"))).toContain("boom");
    expect(sanitizeReasonDetail({ a: 1 })).toBe('{"a":1}');
    expect(sanitizeReasonDetail(undefined)).toBe("");
  });
  it("always yields valid UTF-8 of at most 4096 bytes without splitting a character (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 6000 }), (s) => {
        const out = sanitizeReasonDetail(s);
        const bytes = new TextEncoder().encode(out);
        expect(bytes.length).toBeLessThanOrEqual(4096);
        // Round-trips through a fatal decoder: valid UTF-8, nothing half-cut.
        expect(new TextDecoder("utf-8", { fatal: true }).decode(bytes)).toBe(out);
        // eslint-disable-next-line no-control-regex
        expect(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(out)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
