import { isIP } from "node:net";
import { EgressDeniedError, FetchUrlError } from "./errors.js";
import type { EgressPolicy } from "./policy.js";

export interface Target {
  url: URL;
  /** The host as a socket is given it: an IPv6 literal without brackets. */
  host: string;
  port: number;
  /** True when `host` is an address, which no resolver and no lookup hook will see. */
  literal: boolean;
}

/**
 * Parses a URL the way fetch will, so that every later check sees the host fetch dials. The WHATWG parser turns
 * `2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1` and percent-encoded digits into `127.0.0.1`, and IPv6 into its
 * compressed form; checking the string as written instead would let an odd spelling past a check that the dial
 * then ignores.
 */
export function parseTarget(input: string | URL, base?: URL): Target {
  const text = String(input);
  let url: URL;
  try {
    url = new URL(text, base);
  } catch {
    throw new FetchUrlError(text, "not a valid URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new FetchUrlError(url.href, `the scheme ${url.protocol.slice(0, -1)} is not fetched (only http and https)`);
  if (url.username !== "" || url.password !== "")
    throw new FetchUrlError(url.href.replace(/\/\/[^@/]*@/, "//***@"), "credentials in a URL are not sent");
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  if (host === "") throw new FetchUrlError(url.href, "no host");
  const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
  return { url, host, port, literal: isIP(host) !== 0 };
}

/**
 * The checks that need no resolver: the port, and the address when the host is one. The dial repeats them; doing
 * them here too gives a clear error before any connection is attempted.
 */
export function checkTarget(policy: EgressPolicy, target: Target): void {
  const denial = target.literal
    ? policy.checkAddress(target.host, target.port, target.host)
    : policy.checkPort(target.host, target.port);
  if (denial !== undefined) throw new EgressDeniedError(denial);
}
