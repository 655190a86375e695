import { describe, expect, it } from "vitest";
import { pdfToText } from "../src/formats/pdf.js";
import { DocumentTooLargeError } from "../src/formats/limits.js";
import { pageTreeDagPdf, pdf } from "./fixtures/pdf.js";

describe("pdfToText", () => {
  it("extracts the text layer line by line, and the document title", async () => {
    expect(await pdfToText(pdf(["Hello (PDF) world.", "Second line."], "A title"))).toEqual({
      text: "Hello (PDF) world.\nSecond line.",
      title: "A title",
    });
  });

  it("leaves the caller's bytes intact (pdf.js transfers what it is given)", async () => {
    const bytes = pdf(["Kept."]);
    const copy = Uint8Array.from(bytes);
    await pdfToText(bytes);
    expect(bytes).toEqual(copy);
  });

  it("gives empty text for a page without a text layer", async () => {
    expect(await pdfToText(pdf([]))).toEqual({ text: "" });
  });

  it("rejects bytes that are not a PDF", async () => {
    await expect(pdfToText(new TextEncoder().encode("%PDF-1.4 but nothing else"))).rejects.toThrow();
  });
});

describe("pdfToText on hostile page trees", () => {
  it("refuses a 2.5 KB page tree that counts a million pages, from its count", async () => {
    const dag = pageTreeDagPdf(20);
    expect(dag.byteLength).toBeLessThan(3_000);
    const started = performance.now();
    const refusal = pdfToText(dag);
    await expect(refusal).rejects.toThrow(DocumentTooLargeError);
    await expect(refusal).rejects.toThrow("the page tree counts 1,048,576 pages, over the limit of 2,000");
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it("refuses a page tree that reaches one page twice, when its count hides the size", async () => {
    await expect(pdfToText(pageTreeDagPdf(20, 3))).rejects.toThrow(
      "the page tree reaches page object 22 0 R again as page 2; a page may appear only once",
    );
  });

  it("refuses from the count past 2,000 pages, and below that from the second visit", async () => {
    await expect(pdfToText(pageTreeDagPdf(11))).rejects.toThrow("counts 2,048 pages, over the limit of 2,000");
    // 1,024 pages that are one page object: refused as soon as the second one is reached.
    await expect(pdfToText(pageTreeDagPdf(10))).rejects.toThrow("again as page 2");
  });
});
