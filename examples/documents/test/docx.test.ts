import { describe, expect, it } from "vitest";
import { docxToText } from "../src/formats/docx.js";
import { docx } from "./fixtures/docx.js";
import { zip } from "./fixtures/zip.js";

describe("docxToText", () => {
  it("extracts one paragraph per paragraph", async () => {
    expect(await docxToText(docx(["First paragraph.", "Second <one> & more."]))).toEqual({
      text: "First paragraph.\n\nSecond <one> & more.",
    });
  });

  it("reads bytes that are a view into a larger buffer", async () => {
    const inner = docx(["Offset view."]);
    const outer = new Uint8Array(inner.byteLength + 10);
    outer.set(inner, 7);
    expect((await docxToText(outer.subarray(7, 7 + inner.byteLength))).text).toBe("Offset view.");
  });

  it("rejects bytes that are not a zip, and a zip that is not a DOCX", async () => {
    await expect(docxToText(new TextEncoder().encode("not a zip at all"))).rejects.toThrow();
    await expect(docxToText(zip([{ name: "hello.txt", data: "hi" }]))).rejects.toThrow();
  });
});
