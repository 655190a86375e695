import { describe, expect, it } from "vitest";
import { openDocxPackage } from "../src/formats/docx-package.js";
import { docxToText } from "../src/formats/docx.js";
import { DocumentTooLargeError, EXTRACT_LIMITS } from "../src/formats/limits.js";
import { docx, docxBomb, docxOfParagraphs, docxWithEntries } from "./fixtures/docx.js";
import { zip } from "./fixtures/zip.js";

const MiB = 1024 * 1024;

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

  it("reads a package of a megabyte of paragraphs, compressed", async () => {
    const { text } = await docxToText(docxOfParagraphs(MiB));
    expect(text).toMatch(/^Paragraph 0: the quarterly figures/);
  });
});

describe("docxToText on hostile packages", () => {
  // Each is refused in milliseconds, without inflating what it claims or hides.
  const quickly = async (bytes: Uint8Array): Promise<unknown> => {
    const started = performance.now();
    const rss = process.memoryUsage().rss;
    const error = await docxToText(bytes).then(
      () => new Error("expected a refusal"),
      (err: unknown) => err,
    );
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * MiB);
    return error;
  };

  it("refuses a main document that declares 60 MB before inflating it", async () => {
    const error = await quickly(docxOfParagraphs(60_000_000));
    expect(error).toBeInstanceOf(DocumentTooLargeError);
    expect(String(error)).toMatch(
      /part word\/document\.xml declares 60,0\d\d,\d\d\d bytes, past the limit of 8,388,608/,
    );
  });

  it("refuses a 1 GiB zip bomb before inflating it", async () => {
    const error = await quickly(docxBomb(2 ** 30));
    expect(error).toBeInstanceOf(DocumentTooLargeError);
    expect(String(error)).toMatch(/declares 1,073,74\d,\d\d\d bytes/);
  });

  it.each([
    ["60 MB of paragraphs", () => docxOfParagraphs(60_000_000, 100_000)],
    ["a 1 GiB bomb", () => docxBomb(2 ** 30, 100_000)],
  ])("stops inflating %s whose headers claim 100 KB once past the claim", async (_what, bytes) => {
    expect(String(await quickly(bytes()))).toMatch(/too many bytes in the stream\. expected 100000/);
  });

  it("refuses more entries than the limit from the end record, before reading the directory", async () => {
    const error = await quickly(docxWithEntries(EXTRACT_LIMITS.docxEntries));
    expect(error).toBeInstanceOf(DocumentTooLargeError);
    expect(String(error)).toContain("the package has 2,003 entries, over the limit of 2,000");
  });

  it("refuses a package that lists a part twice", async () => {
    const twice = zip([
      { name: "word/document.xml", data: "<a/>" },
      { name: "word/document.xml", data: "<b/>" },
    ]);
    expect(String(await quickly(twice))).toContain("the package lists word/document.xml twice");
  });
});

describe("openDocxPackage", () => {
  it("counts the bytes of parts read at the same time against one budget", async () => {
    const bytes = zip([
      { name: "a.xml", data: "a".repeat(600) },
      { name: "b.xml", data: "b".repeat(600) },
    ]);
    const file = await openDocxPackage(bytes, { entries: 10, inflatedBytes: 1_000 });
    // Each declares 600 of the 1,000 bytes: both pass the check before inflating, the count stops the second.
    const reads = await Promise.allSettled([file.read("a.xml", "utf-8"), file.read("b.xml", "utf-8")]);
    expect(reads.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const refused = reads.find((r) => r.status === "rejected");
    expect(refused?.reason).toBeInstanceOf(DocumentTooLargeError);
    expect(String(refused?.reason)).toMatch(/inflates to more than that/);
    // A third read is refused on its declared size alone.
    await expect(
      openDocxPackage(bytes, { entries: 10, inflatedBytes: 500 }).then((f) => f.read("a.xml")),
    ).rejects.toThrow(/part a\.xml declares 600 bytes, past the limit of 500 bytes/);
  });

  it("reads parts as bytes, text or base64, and says which parts exist", async () => {
    const file = await openDocxPackage(zip([{ name: "word/x.xml", data: "héllo" }]));
    expect(file.exists("word/x.xml")).toBe(true);
    expect(file.exists("word/y.xml")).toBe(false);
    expect(await file.read("word/x.xml", "utf-8")).toBe("héllo");
    expect(await file.read("word/x.xml", "base64")).toBe(Buffer.from("héllo").toString("base64"));
    expect(await file.read("word/x.xml")).toEqual(Buffer.from("héllo"));
    await expect(file.read("word/y.xml")).rejects.toThrow("the package has no part word/y.xml");
  });
});
