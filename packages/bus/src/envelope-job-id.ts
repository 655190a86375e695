const decoder = new TextDecoder("utf-8", { fatal: true });

/** The job id of an envelope, if the bytes are a JSON object with a string `job_id`. */
export function jobIdOf(data: Uint8Array | undefined): string | undefined {
  if (data === undefined || data.byteLength === 0) return undefined;
  try {
    const v = JSON.parse(decoder.decode(data)) as unknown;
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      const id = (v as { job_id?: unknown }).job_id;
      if (typeof id === "string" && id.length > 0) return id;
    }
  } catch {
    // not JSON: no job id
  }
  return undefined;
}
