/**
 * Regenerates the binary samples (DOCX, PDF, PNG) in samples/ from test/fixtures/binary-samples.ts:
 *   node --import tsx examples/documents/scripts/write-binary-samples.ts
 */
import { writeFileSync } from "node:fs";
import { BINARY_SAMPLES } from "../test/fixtures/binary-samples.js";

for (const { file, bytes } of BINARY_SAMPLES) {
  const url = new URL(`../samples/${file}`, import.meta.url);
  writeFileSync(url, bytes());
  console.log(`wrote ${url.pathname}`);
}
