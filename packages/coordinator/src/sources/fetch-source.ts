import type { PayloadStore } from "@tessera/bus";
import type { ContentRef, Job, SourceLocator } from "@tessera/contract";
import { EgressDeniedError, EgressError, type Egress } from "@tessera/egress";

/** What a source-locator job's content type is when its submitter named none: whatever the source serves. */
export const ANY_CONTENT_TYPE = "*/*";
/** A fetch's time budget when the job names none (`fetch_limits.timeout_ms`). */
export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;
/** The longest a submitter may ask for: a fetch holds one of the coordinator's fetch slots all along. */
export const MAX_FETCH_TIMEOUT_MS = 10 * 60_000;
/** Redirects followed when the job names no `fetch_limits.max_redirects`. */
export const DEFAULT_FETCH_REDIRECTS = 5;

/** HTTP statuses a later try may get past: the server's trouble or its request to slow down, not the request's. */
const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504]);
/** A Retry-After past this is not waited for: the job fails with the status instead of holding a slot for it. */
const MAX_RETRY_AFTER_MS = 30_000;
/** What an HTTP header may carry here: printable ASCII (a content type as the worker gets it, too). */
export const HEADER_SAFE = /^[\x20-\x7e]{1,255}$/;

export type FetchOutcome =
  | { ok: true; ref: ContentRef; contentType: string | null }
  | { ok: false; code: string; detail: string; retryable: boolean; retryAfterMs?: number };

export interface FetchRequest {
  job: Job;
  locator: SourceLocator;
  authorization: string | undefined;
  signal: AbortSignal;
  now: number;
}

/**
 * One try at a job's source: fetched through the egress guard and streamed into the payload store under the job's
 * id, so the coordinator never holds the whole body. Failures the source is to blame for come back as an outcome
 * with a reason code; anything else (the payload store down, the coordinator stopping) is thrown, and decides
 * nothing about the job.
 */
export async function fetchSource(
  egress: Egress,
  payloads: PayloadStore,
  request: FetchRequest,
): Promise<FetchOutcome> {
  const { job, locator } = request;
  const limits = locator.fetch_limits ?? {};
  const maxBytes = Math.min(limits.max_bytes ?? job.limits.max_bytes, job.limits.max_bytes);
  const untilDeadline = job.deadline === undefined ? Infinity : Date.parse(job.deadline) - request.now;
  if (untilDeadline <= 0)
    return {
      ok: false,
      code: "fetch_timeout",
      detail: `the job's deadline ${job.deadline} passed before its source was fetched`,
      retryable: false,
    };
  // A content type no header can carry is still the job's; the source is then asked for anything.
  const headers: Record<string, string> = { accept: HEADER_SAFE.test(job.content_type) ? job.content_type : "*/*" };
  if (request.authorization !== undefined) headers["authorization"] = request.authorization;
  let res;
  try {
    res = await egress.fetch(locator.source_url, {
      headers,
      maxBytes,
      timeoutMs: Math.min(limits.timeout_ms ?? DEFAULT_FETCH_TIMEOUT_MS, untilDeadline),
      maxRedirects: limits.max_redirects ?? DEFAULT_FETCH_REDIRECTS,
      signal: request.signal,
    });
  } catch (err) {
    if (request.signal.aborted) throw err;
    // Anything but the guard's own errors is the HTTP client refusing this request as given: the same every time.
    return (
      failure(err) ?? {
        ok: false,
        code: "fetch_bad_request",
        detail: `fetch ${locator.source_url}: the request could not be made: ${(err as Error).message}`,
        retryable: false,
      }
    );
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    const wait = retryAfterMs(res.headers.get("retry-after"), request.now);
    const waitable = wait === undefined || wait <= MAX_RETRY_AFTER_MS;
    return {
      ok: false,
      code: `fetch_http_${res.status}`,
      detail: `fetch ${res.url}: the server answered ${res.status}${res.statusText === "" ? "" : ` ${res.statusText}`}${waitable ? "" : ` and asked to wait ${Math.round((wait ?? 0) / 1000)} s`}`,
      retryable: RETRYABLE_STATUSES.has(res.status) && waitable,
      ...(wait !== undefined && waitable ? { retryAfterMs: wait } : {}),
    };
  }
  try {
    const ref = await payloads.put(job.job_id, res.body ?? new Uint8Array(), { maxBytes });
    return { ok: true, ref, contentType: res.headers.get("content-type") };
  } catch (err) {
    // The body broke while the store read it (the guard's own error, somewhere in the store's wrapping), or the
    // store failed, which is not the source's doing.
    const outcome = failure(err);
    if (outcome === undefined) throw err;
    return outcome;
  }
}

/** The guard's error as an outcome (only a broken connection is worth another try); undefined for any other. */
function failure(err: unknown): Extract<FetchOutcome, { ok: false }> | undefined {
  let ours: EgressError | undefined;
  for (let at = err; at instanceof Error && ours === undefined; at = at.cause) if (at instanceof EgressError) ours = at;
  if (ours === undefined) return undefined;
  // Named whatever the rule, so a job refused for its port still says what kind of address it pointed at.
  const detail =
    ours instanceof EgressDeniedError
      ? `${ours.message} (rule: ${ours.rule}, address class: ${ours.addressClass ?? "not resolved"})`
      : ours.message;
  return { ok: false, code: ours.code, detail, retryable: ours.code === "fetch_network" };
}

/** Retry-After, given as seconds or as an HTTP date, in ms from now; undefined when absent or unreadable. */
function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value.trim()) * 1_000 : Date.parse(value) - now;
  return Number.isFinite(ms) ? Math.max(0, ms) : undefined;
}
