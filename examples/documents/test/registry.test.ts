import { describe, expect, it } from "vitest";
import { ExtractReason } from "../src/extract-reason.js";
import { convertDocument } from "../src/formats/converters.js";
import { DOCX_MEDIA_TYPE, FORMATS, parseContentType } from "../src/formats/registry.js";

describe("parseContentType", () => {
  it("lower-cases the media type and reads a (quoted) charset parameter", () => {
    expect(parseContentType('Text/HTML ; Charset="ISO-8859-1"')).toEqual({
      mediaType: "text/html",
      charset: "ISO-8859-1",
    });
    expect(parseContentType("text/plain; format=flowed")).toEqual({ mediaType: "text/plain" });
    expect(parseContentType(DOCX_MEDIA_TYPE)).toEqual({ mediaType: DOCX_MEDIA_TYPE });
  });

  it("names a format for every media type extract reads", () => {
    expect(Object.fromEntries(FORMATS)).toEqual({
      "text/plain": "text",
      "text/html": "html",
      "text/markdown": "markdown",
      "text/x-markdown": "markdown",
      [DOCX_MEDIA_TYPE]: "docx",
      "application/pdf": "pdf",
    });
  });
});

describe("convertDocument on text", () => {
  it("decodes the charset the content type names, UTF-8 otherwise, without the BOM", async () => {
    expect(await convertDocument("text", Uint8Array.from([0x63, 0x61, 0x66, 0xe9]), "iso-8859-1")).toEqual({
      ok: true,
      extracted: { text: "café" },
    });
    expect(
      await convertDocument("text", Uint8Array.from([0xef, 0xbb, 0xbf, 0x68, 0x69, 0x0d, 0x0a]), undefined),
    ).toEqual({ ok: true, extracted: { text: "hi" } });
  });

  it("refuses malformed bytes instead of replacing them", async () => {
    expect(await convertDocument("text", Uint8Array.from([0x68, 0xff, 0x69]), undefined)).toMatchObject({
      ok: false,
      reason: ExtractReason.UnparseableDocument,
    });
  });

  it("refuses a charset the runtime does not know, with its own reason", async () => {
    expect(await convertDocument("text", new Uint8Array(), "x-klingon")).toMatchObject({
      ok: false,
      reason: ExtractReason.UnsupportedCharset,
      message: 'charset "x-klingon" is not supported; send the document as UTF-8',
    });
  });

  it("refuses text over the limit as too large", async () => {
    expect(await convertDocument("text", new Uint8Array(2_000_001).fill(0x20), undefined)).toMatchObject({
      ok: false,
      reason: ExtractReason.DocumentTooLarge,
    });
  });
});
