import { convertDocument } from "./formats/converters.js";
import type { ConversionOutcome } from "./formats/outcome.js";
import type { ParseTask } from "./parser-pool.js";

// Only static imports of this project's modules below here: in a Node 20 thread, tsx's loader works for
// require() (which Piscina loads this module with) but not for import(), so a dynamic import of a
// TypeScript file fails there. Packages' own ESM (pdf.js) loads either way.

/** The parser thread's entry (see src/parser-pool.ts): one document in, its outcome out. */
export default function parse(task: ParseTask): Promise<ConversionOutcome> {
  return convertDocument(task.format, task.bytes, task.charset);
}
