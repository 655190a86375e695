import { Headers, Response, fetch, type HeadersInit } from "undici";
import { classifyAddress, type AddressVerdict } from "./address-class.js";
import { createGuardedAgent, systemResolver, type GuardedAgentOptions, type Resolver } from "./dial-guard.js";
import {
  EgressDeniedError,
  EgressError,
  FetchNetworkError,
  FetchTooLargeError,
  FetchTooManyRedirectsError,
} from "./errors.js";
import { Deadline, capBody } from "./limits.js";
import { compilePolicy, type EgressAllowlist } from "./policy.js";
import { REDIRECT_STATUSES, nextHop, type Hop } from "./redirect.js";
import { checkTarget, parseTarget, type Target } from "./target.js";

export const EGRESS_DEFAULTS = {
  maxRedirects: 5,
  maxBytes: 32 * 1024 * 1024,
  timeoutMs: 30_000,
} as const;

export interface EgressLimits {
  /** Redirects followed before `FetchTooManyRedirectsError`; 0 refuses every redirect. */
  maxRedirects?: number;
  /** Body bytes (after decompression) before `FetchTooLargeError`. */
  maxBytes?: number;
  /** Total time, from the first connection to the body's last byte, before `FetchTimeoutError`. */
  timeoutMs?: number;
}

export interface EgressOptions extends EgressLimits, GuardedAgentOptions {
  /** What may be reached; the default is the public internet and nothing else. */
  allow?: EgressAllowlist;
  /** Tests inject one; the default is the system resolver. */
  resolve?: Resolver;
}

export interface EgressFetchInit extends EgressLimits {
  method?: string;
  headers?: HeadersInit;
  /** Only replayable bodies: a 307 or 308 redirect sends the body again. */
  body?: string | Uint8Array;
  signal?: AbortSignal;
}

export interface Egress {
  /**
   * Fetches `url`, following redirects itself so each hop is checked. Resolves with the final response whatever
   * its status (a 404 is the caller's to judge); its body is capped as it is read. Rejects with an `EgressError`
   * for the guard's refusals and limits, or with the caller's own abort reason.
   */
  fetch(url: string | URL, init?: EgressFetchInit): Promise<Response>;
  /**
   * Resolves and checks `url` without connecting. Advisory only (a rebinding name may answer differently at dial
   * time, where `fetch` checks again); it lets a caller refuse a URL at submission instead of when it runs.
   */
  check(url: string | URL): Promise<AddressVerdict[]>;
  close(): Promise<void>;
}

const NULL_BODY = new Set([101, 103, 204, 205, 304]);

function egressCause(err: unknown): EgressError | undefined {
  for (let at = err; at instanceof Error; at = at.cause) if (at instanceof EgressError) return at;
  return undefined;
}

/** Maps what undici throws to our errors; the caller's own abort reason passes through untouched. */
function translate(err: unknown, url: string, signal: AbortSignal): unknown {
  const ours = egressCause(err);
  if (ours !== undefined) return ours;
  if (signal.aborted) return signal.reason;
  if (err instanceof TypeError && err.cause !== undefined) return new FetchNetworkError(url, err);
  return err;
}

function finalResponse(
  res: Response,
  target: Target,
  maxBytes: number,
  deadline: Deadline,
  redirected: boolean,
): Response {
  const url = target.url.href;
  const length = Number(res.headers.get("content-length") ?? NaN);
  // Refused before reading when the server announces too much (unless compressed: the cap counts decoded bytes).
  if (!res.headers.has("content-encoding") && length > maxBytes) {
    void res.body?.cancel();
    throw new FetchTooLargeError(url, maxBytes, length);
  }
  let body: ReadableStream<Uint8Array> | null = null;
  if (res.body === null || NULL_BODY.has(res.status)) {
    void res.body?.cancel();
    deadline.finish();
  } else {
    const fail = (err: unknown) => translate(err, url, deadline.signal);
    body = capBody(res.body as ReadableStream<Uint8Array>, url, maxBytes, () => deadline.finish(), fail);
  }
  const out = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  // A constructed Response has no URL; the caller needs the one the body came from after redirects.
  Object.defineProperties(out, { url: { value: url }, redirected: { value: redirected } });
  return out;
}

function limit(name: keyof EgressLimits, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${name}: expected a whole number >= 0, got ${value}`);
  return value;
}

/**
 * Creates the egress guard. One per policy; it holds a connection pool, so share it and `close()` it at shutdown.
 */
export function createEgress(options: EgressOptions = {}): Egress {
  const policy = compilePolicy(options.allow);
  const resolve = options.resolve ?? systemResolver;
  const agent = createGuardedAgent(policy, resolve, options.connect === undefined ? {} : { connect: options.connect });

  async function egressFetch(input: string | URL, init: EgressFetchInit = {}): Promise<Response> {
    const maxRedirects = limit(
      "maxRedirects",
      init.maxRedirects ?? options.maxRedirects ?? EGRESS_DEFAULTS.maxRedirects,
    );
    const maxBytes = limit("maxBytes", init.maxBytes ?? options.maxBytes ?? EGRESS_DEFAULTS.maxBytes);
    const timeoutMs = limit("timeoutMs", init.timeoutMs ?? options.timeoutMs ?? EGRESS_DEFAULTS.timeoutMs);
    let target = parseTarget(input);
    const deadline = new Deadline(target.url.href, timeoutMs, init.signal);
    let hop: Hop = { method: init.method ?? "GET", headers: new Headers(init.headers), body: init.body };
    try {
      for (let redirects = 0; ; redirects++) {
        checkTarget(policy, target);
        const res = await fetch(target.url, {
          method: hop.method,
          headers: hop.headers,
          body: hop.body ?? null,
          redirect: "manual",
          dispatcher: agent,
          signal: deadline.signal,
        });
        const location = REDIRECT_STATUSES.has(res.status) ? res.headers.get("location") : null;
        if (location === null) return finalResponse(res, target, maxBytes, deadline, redirects > 0);
        await res.body?.cancel();
        if (redirects >= maxRedirects) throw new FetchTooManyRedirectsError(String(input), maxRedirects);
        const next = parseTarget(location, target.url);
        hop = nextHop(hop, res.status, target, next);
        target = next;
      }
    } catch (err) {
      deadline.finish();
      throw translate(err, target.url.href, deadline.signal);
    }
  }

  async function check(input: string | URL): Promise<AddressVerdict[]> {
    const target = parseTarget(input);
    checkTarget(policy, target);
    if (target.literal) return [classifyAddress(target.host)];
    let answers: readonly { address: string }[];
    try {
      answers = await resolve(target.host);
    } catch (err) {
      throw new FetchNetworkError(target.url.href, err);
    }
    if (answers.length === 0) throw new FetchNetworkError(target.url.href, new Error(`${target.host} has no address`));
    return answers.map(({ address }) => {
      const denial = policy.checkAddress(target.host, target.port, address);
      if (denial !== undefined) throw new EgressDeniedError(denial);
      return classifyAddress(address);
    });
  }

  return { fetch: egressFetch, check, close: () => agent.close() };
}
