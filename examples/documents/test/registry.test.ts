import { describe, expect, it } from "vitest";
import { UnsupportedCharsetError } from "../src/formats/decode-text.js";
import { CONVERTERS, DOCX_MEDIA_TYPE, parseContentType } from "../src/formats/registry.js";

describe("parseContentType", () => {
  it("lower-cases the media type and reads a (quoted) charset parameter", () => {
    expect(parseContentType('Text/HTML ; Charset="ISO-8859-1"')).toEqual({
      mediaType: "text/html",
      charset: "ISO-8859-1",
    });
    expect(parseContentType("text/plain; format=flowed")).toEqual({ mediaType: "text/plain" });
    expect(parseContentType(DOCX_MEDIA_TYPE)).toEqual({ mediaType: DOCX_MEDIA_TYPE });
  });
});

describe("text converters", () => {
  const text = CONVERTERS.get("text/plain");

  it("decode the charset the content type names, UTF-8 otherwise, without the BOM", async () => {
    expect(await text?.convert(Uint8Array.from([0x63, 0x61, 0x66, 0xe9]), "iso-8859-1")).toEqual({ text: "café" });
    expect(await text?.convert(Uint8Array.from([0xef, 0xbb, 0xbf, 0x68, 0x69, 0x0d, 0x0a]), undefined)).toEqual({
      text: "hi",
    });
  });

  it("refuse malformed bytes instead of replacing them", () => {
    expect(() => text?.convert(Uint8Array.from([0x68, 0xff, 0x69]), undefined)).toThrow(TypeError);
  });

  it("refuse a charset the runtime does not know, with a typed error", () => {
    expect(() => text?.convert(new Uint8Array(), "x-klingon")).toThrow(UnsupportedCharsetError);
  });
});
