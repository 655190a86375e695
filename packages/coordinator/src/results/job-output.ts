import type { PayloadStore } from "@tessera/bus";
import type { Result } from "@tessera/contract";
import type { JobOutputBytes } from "../types.js";

const utf8 = new TextEncoder();

/** A Result's output as bytes: the object `result_ref` names, or the inline data (a string as is, anything else as JSON). */
export async function outputBytes(
  payloads: PayloadStore,
  jobId: string,
  output: Result["output"],
): Promise<JobOutputBytes> {
  if (output?.result_ref !== undefined) {
    return {
      bytes: await payloads.get(output.result_ref, { jobId, maxBytes: Number.MAX_SAFE_INTEGER }),
      contentType: "application/octet-stream",
    };
  }
  const data = output?.data;
  return typeof data === "string"
    ? { bytes: utf8.encode(data), contentType: "text/plain; charset=utf-8" }
    : { bytes: utf8.encode(JSON.stringify(data ?? null)), contentType: "application/json" };
}
