import { Headers } from "undici";
import type { Target } from "./target.js";

export const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
// Dropped on a redirect to another origin, as browsers do: they were meant for the first one.
const ORIGIN_BOUND_HEADERS = ["authorization", "cookie", "proxy-authorization"];
const BODY_HEADERS = ["content-type", "content-length", "content-encoding", "content-language", "content-location"];

export interface Hop {
  method: string;
  headers: Headers;
  body: string | Uint8Array | undefined;
}

/** The request the next hop makes, by the fetch standard's rules for method and body. */
export function nextHop(hop: Hop, status: number, from: Target, to: Target): Hop {
  const next: Hop = { method: hop.method, headers: new Headers(hop.headers), body: hop.body };
  const becomesGet =
    (status === 303 && hop.method !== "HEAD") || ((status === 301 || status === 302) && hop.method === "POST");
  if (becomesGet) {
    next.method = "GET";
    next.body = undefined;
    for (const name of BODY_HEADERS) next.headers.delete(name);
  }
  if (from.url.origin !== to.url.origin) for (const name of ORIGIN_BOUND_HEADERS) next.headers.delete(name);
  return next;
}
