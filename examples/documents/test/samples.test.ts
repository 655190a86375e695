import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DOCX_MEDIA_TYPE } from "../src/formats/registry.js";
import { contentTypeFor, loadSamples } from "../src/samples.js";
import { BINARY_SAMPLES } from "./fixtures/binary-samples.js";

const SAMPLES_DIR = new URL("../samples/", import.meta.url);

describe("loadSamples", () => {
  it("lists every sample, sorted, with its content type from the extension", () => {
    const samples = loadSamples(SAMPLES_DIR);
    expect(samples.map(({ label, contentType }) => [label, contentType])).toEqual([
      ["field-guide.md", "text/markdown; charset=utf-8"],
      ["invoice.pdf", "application/pdf"],
      ["quarterly-report.docx", DOCX_MEDIA_TYPE],
      ["release-notes.html", "text/html; charset=utf-8"],
      ["scan.png", "image/png"],
      ["welcome.txt", "text/plain; charset=utf-8"],
    ]);
    expect(samples.every((s) => s.bytes.byteLength > 0)).toBe(true);
  });

  it("accepts a path as well as a file URL", () => {
    expect(loadSamples(SAMPLES_DIR.pathname).map((s) => s.label)).toEqual(loadSamples(SAMPLES_DIR).map((s) => s.label));
  });

  it("sends unknown extensions as opaque bytes, case-insensitively known ones as their type", () => {
    expect(contentTypeFor("REPORT.PDF")).toBe("application/pdf");
    expect(contentTypeFor("archive.tar.gz")).toBe("application/octet-stream");
    expect(contentTypeFor("Makefile")).toBe("application/octet-stream");
  });
});

describe("the committed binary samples", () => {
  it.each(BINARY_SAMPLES)(
    "$file is what the fixture builds (regenerate: scripts/write-binary-samples.ts)",
    ({ file, bytes }) => {
      expect(new Uint8Array(readFileSync(new URL(file, SAMPLES_DIR)))).toEqual(bytes());
    },
  );
});
