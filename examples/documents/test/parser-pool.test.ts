import { afterAll, describe, expect, it } from "vitest";
import { ExtractReason } from "../src/extract-reason.js";
import { createParserPool } from "../src/parser-pool.js";
import { docxOfParagraphs } from "./fixtures/docx.js";
import { pdf } from "./fixtures/pdf.js";

// Taken before anything here loads pdf.js: the functions every other module in this process uses.
const { parse: nativeParse, stringify: nativeStringify } = JSON;
const never = new AbortController().signal;
const pool = createParserPool({ threads: 1 });
afterAll(() => pool.close());

describe("the parser pool", () => {
  it("parses a PDF in a thread, leaving this process's JSON.parse and JSON.stringify as they were", async () => {
    const outcome = await pool.convert(
      { format: "pdf", bytes: pdf(["In a thread."], "Title"), charset: undefined },
      never,
    );
    expect(outcome).toEqual({ ok: true, extracted: { text: "In a thread.", title: "Title" } });
    // pdf.js's legacy build installs core-js's JSON.parse and JSON.stringify where it is loaded (they are
    // 20 to 40 times slower); identity, not toString(): core-js makes its functions print as native.
    expect(JSON.parse).toBe(nativeParse);
    expect(JSON.stringify).toBe(nativeStringify);
  });

  it("leaves the caller's bytes in place (the thread gets a copy)", async () => {
    const bytes = new TextEncoder().encode("<p>Kept.</p>");
    await pool.convert({ format: "html", bytes, charset: undefined }, never);
    expect(new TextDecoder().decode(bytes)).toBe("<p>Kept.</p>");
  });

  it("terminates a thread in the middle of a parse when the signal aborts, and starts another after", async () => {
    // Seconds of html-to-text, all of it synchronous: only terminating the thread stops it.
    const html = new TextEncoder().encode("<p>A paragraph of <b>words</b>.</p>".repeat(300_000));
    const abort = new AbortController();
    const parsing = pool.convert({ format: "html", bytes: html, charset: undefined }, abort.signal);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const aborted = performance.now();
    abort.abort(new Error("out of time"));
    await expect(parsing).rejects.toThrow("out of time");
    expect(performance.now() - aborted).toBeLessThan(1_000);
    expect(
      await pool.convert(
        { format: "html", bytes: new TextEncoder().encode("<p>Next.</p>"), charset: undefined },
        never,
      ),
    ).toEqual({
      ok: true,
      extracted: { text: "Next." },
    });
  });

  it("reports a thread out of heap as document_too_large, and keeps working", async () => {
    const small = createParserPool({ threads: 1, heapMiB: 48 });
    try {
      // About 2 MB of XML: mammoth needs some 70 MiB of heap for it.
      const outcome = await small.convert(
        { format: "docx", bytes: docxOfParagraphs(2_000_000), charset: undefined },
        never,
      );
      expect(outcome).toEqual({
        ok: false,
        reason: ExtractReason.DocumentTooLarge,
        message: "parsing it needed more than the parser thread's 48 MiB heap",
      });
      const next = await small.convert(
        { format: "text", bytes: new TextEncoder().encode("still here"), charset: undefined },
        never,
      );
      expect(next).toEqual({ ok: true, extracted: { text: "still here" } });
    } finally {
      await small.close();
    }
  });
});
