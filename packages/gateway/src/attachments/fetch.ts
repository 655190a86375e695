import { EgressError, type Egress } from "@tessera/egress";

export type AttachmentFetch =
  | { ok: true; bytes: Uint8Array; contentType: string | undefined }
  | { ok: false; code: string; detail: string; retryable: boolean };

export interface AttachmentFetchLimits {
  /** Bytes (after decompression) before `fetch_too_large`. */
  maxBytes: number;
  /** The whole fetch, redirects and body included, before `fetch_timeout`. */
  timeoutMs: number;
  maxRedirects: number;
  headers?: Record<string, string>;
}

const RETRYABLE_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * One attachment fetch through the egress guard: the guard checks every dialed address and every redirect and
 * caps the bytes and the time; what it refuses, and any non-2xx answer, comes back as a reason code
 * (`egress_denied`, `fetch_too_large`, `fetch_timeout`, `fetch_http_403`, …) instead of an exception.
 */
export async function fetchAttachment(
  egress: Egress,
  url: string,
  limits: AttachmentFetchLimits,
): Promise<AttachmentFetch> {
  try {
    const res = await egress.fetch(url, {
      maxBytes: limits.maxBytes,
      timeoutMs: limits.timeoutMs,
      maxRedirects: limits.maxRedirects,
      ...(limits.headers !== undefined ? { headers: limits.headers } : {}),
    });
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      return {
        ok: false,
        code: `fetch_http_${res.status}`,
        detail: `fetch ${res.url}: the server answered ${res.status}`,
        retryable: RETRYABLE_STATUSES.has(res.status),
      };
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    return { ok: true, bytes, contentType: res.headers.get("content-type") ?? undefined };
  } catch (err) {
    let ours: EgressError | undefined;
    for (let at = err; at instanceof Error && ours === undefined; at = at.cause)
      if (at instanceof EgressError) ours = at;
    if (ours === undefined)
      return { ok: false, code: "fetch_bad_request", detail: (err as Error).message ?? String(err), retryable: false };
    return { ok: false, code: ours.code, detail: ours.message, retryable: ours.code === "fetch_network" };
  }
}
