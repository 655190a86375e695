import { afterAll, beforeAll, describe, expect, it } from "vitest";
import extract, { ExtractReason } from "../src/extract.js";
import { DOCX_MEDIA_TYPE } from "../src/formats/registry.js";
import { loadSamples } from "../src/samples.js";
import { docx, docxBomb } from "./fixtures/docx.js";
import { startInProcessPipeline, type InProcessPipeline } from "./in-process-pipeline.js";

const utf8 = new TextEncoder();
// Before extract has seen a PDF: pdf.js must never replace these in the process that hosts extract.
const { parse: nativeParse, stringify: nativeStringify } = JSON;
let pipeline: InProcessPipeline;
beforeAll(async () => {
  pipeline = await startInProcessPipeline([extract]);
});
afterAll(() => pipeline.stop());

describe("extract on the in-process bus: the samples", () => {
  const samples = new Map(loadSamples(new URL("../samples/", import.meta.url)).map((s) => [s.label, s]));
  const expected: Array<[label: string, format: string, title: string | undefined, fragment: string]> = [
    ["welcome.txt", "text", undefined, "extracted to plain text by the extract component"],
    [
      "release-notes.html",
      "html",
      "Release notes: Tessera 0.1",
      "Failed jobs carry a reason code & a readable detail.",
    ],
    [
      "field-guide.md",
      "markdown",
      "A field guide to chunking",
      "const chunks = chunkText(text, { maxChars: 800, overlap: 120 });",
    ],
    [
      "quarterly-report.docx",
      "docx",
      undefined,
      "Quarterly report: document pipeline\n\nThe pipeline processed documents",
    ],
    ["invoice.pdf", "pdf", "Invoice 2024-117", "Document pipeline subscription, one quarter: 1,200.00 EUR."],
  ];

  it.each(expected)("%s completes as %s text", async (label, format, title, fragment) => {
    const sample = samples.get(label);
    if (sample === undefined) throw new Error(`samples/${label} is missing`);
    const result = await pipeline.run("extract", { contentType: sample.contentType, input: sample.bytes });
    expect(result).toMatchObject({ status: "completed", attempt: 1 });
    const data = result.output?.data as { format: string; title?: string; characters: number; text: string };
    expect(data.format).toBe(format);
    expect(data.title).toBe(title);
    expect(data.text).toContain(fragment);
    expect(data.characters).toBe(data.text.length);
  });

  it("drops the HTML sample's scripts and styles, and the Markdown sample's syntax", async () => {
    const html = await pipeline.run("extract", {
      contentType: "text/html",
      input: samples.get("release-notes.html")?.bytes,
    });
    expect((html.output?.data as { text: string }).text).not.toMatch(/analytics|tracking-pixel|font-family|https:/);
    const md = await pipeline.run("extract", {
      contentType: "text/markdown",
      input: samples.get("field-guide.md")?.bytes,
    });
    expect((md.output?.data as { text: string }).text).not.toMatch(/^#|\*\*|\]\(|```/m);
  });

  it("leaves the host's JSON.parse and JSON.stringify alone after a PDF (pdf.js runs in a parser thread)", async () => {
    const result = await pipeline.run("extract", {
      contentType: "application/pdf",
      input: samples.get("invoice.pdf")?.bytes,
    });
    expect(result).toMatchObject({ status: "completed" });
    expect(JSON.parse).toBe(nativeParse);
    expect(JSON.stringify).toBe(nativeStringify);
  });

  it("fails the image sample terminally, on the first attempt, with unsupported_content_type", async () => {
    const png = samples.get("scan.png");
    const result = await pipeline.run("extract", { contentType: png?.contentType ?? "", input: png?.bytes });
    expect(result).toMatchObject({ status: "failed", attempt: 1, reason_code: ExtractReason.UnsupportedContentType });
    expect(result.reason_detail).toContain("image/png");
    expect(result.reason_detail).toContain("application/pdf");
  });
});

describe("extract on the in-process bus: documents it cannot read", () => {
  it.each([
    ["a DOCX that is not a zip", DOCX_MEDIA_TYPE, utf8.encode("PK but not really")],
    ["a PDF that is not a PDF", "application/pdf", utf8.encode("%PDF-1.7\ngarbage")],
    ["text that is not valid UTF-8", "text/plain", Uint8Array.from([0x68, 0xc3, 0x28])],
  ])("fails %s as unparseable_document", async (_what, contentType, input) => {
    const result = await pipeline.run("extract", { contentType, input });
    expect(result).toMatchObject({ status: "failed", attempt: 1, reason_code: ExtractReason.UnparseableDocument });
  });

  it("fails a 1 GiB zip bomb as document_too_large, naming the limit", async () => {
    const result = await pipeline.run("extract", { contentType: DOCX_MEDIA_TYPE, input: docxBomb(2 ** 30) });
    expect(result).toMatchObject({ status: "failed", attempt: 1, reason_code: ExtractReason.DocumentTooLarge });
    expect(result.reason_detail).toMatch(
      /^the docx document is more than extract reads: part word\/document\.xml declares 1,073,74\d,\d{3} bytes, past the limit of 8,388,608 bytes/,
    );
  });

  it("fails an unknown charset as unsupported_charset", async () => {
    const result = await pipeline.run("extract", {
      contentType: "text/plain; charset=x-klingon",
      input: utf8.encode("qapla'"),
    });
    expect(result).toMatchObject({ status: "failed", reason_code: ExtractReason.UnsupportedCharset });
    expect(result.reason_detail).toContain("x-klingon");
  });

  it("fails a document without text as empty_document", async () => {
    const result = await pipeline.run("extract", { contentType: DOCX_MEDIA_TYPE, input: docx(["", "   "]) });
    expect(result).toMatchObject({ status: "failed", reason_code: ExtractReason.EmptyDocument });
  });

  it("reads inline text input as well as input by reference", async () => {
    const result = await pipeline.run("extract", {
      contentType: "text/markdown",
      input: "# Inline\n\nA *short* note.",
    });
    expect(result.output?.data).toEqual({
      format: "markdown",
      title: "Inline",
      characters: 21,
      text: "Inline\n\nA short note.",
    });
  });
});
