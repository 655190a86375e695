import { describe, expect, it } from "vitest";
import { pdfToText } from "../src/formats/pdf.js";
import { pdf } from "./fixtures/pdf.js";

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

  it("stops when its signal aborts, with the signal's reason", async () => {
    const before = new AbortController();
    before.abort(new Error("out of time before"));
    await expect(pdfToText(pdf(["x"]), before.signal)).rejects.toThrow("out of time before");
    const during = new AbortController();
    const parsing = pdfToText(pdf(["x"]), during.signal);
    during.abort(new Error("out of time during"));
    await expect(parsing).rejects.toThrow("out of time during");
  });

  it("rejects bytes that are not a PDF", async () => {
    await expect(pdfToText(new TextEncoder().encode("%PDF-1.4 but nothing else"))).rejects.toThrow();
  });
});
