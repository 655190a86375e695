import type { AddressClass } from "./address-class.js";
import type { EmbeddingForm } from "./ipv4-embedding.js";

/**
 * Base of every error the egress guard raises on purpose. `code` is stable: the platform maps it to a job's
 * reason code, so a code never changes meaning once released.
 */
export class EgressError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Which rule refused the connection. */
export type DenyRule =
  /** The address is in a class that is never reached (loopback, private, metadata, ...). */
  | "address_class"
  /** A public address, but the policy does not open the internet and no CIDR of it covers the address. */
  | "not_allowlisted"
  /** The policy lists ports and this one is not among them. */
  | "port";

export interface Denial {
  rule: DenyRule;
  /** Absent only when the port was refused before the host was resolved. */
  addressClass?: AddressClass;
  host: string;
  port: number;
  address?: string;
  embedded?: { form: EmbeddingForm; ipv4: string };
}

export class EgressDeniedError extends EgressError {
  readonly rule: DenyRule;
  readonly addressClass: AddressClass | undefined;
  readonly host: string;
  readonly port: number;
  readonly address: string | undefined;
  readonly embedded: Denial["embedded"];

  constructor(denial: Denial) {
    super("egress_denied", describeDenial(denial));
    this.rule = denial.rule;
    this.addressClass = denial.addressClass;
    this.host = denial.host;
    this.port = denial.port;
    this.address = denial.address;
    this.embedded = denial.embedded;
  }
}

function describeDenial(d: Denial): string {
  const target = d.address !== undefined && d.address !== d.host ? `${d.host} (${d.address})` : d.host;
  const carried = d.embedded ? `, IPv4 ${d.embedded.ipv4} carried as ${d.embedded.form}` : "";
  switch (d.rule) {
    case "port":
      return `egress denied: port ${d.port} of ${target} is not in the allowed ports`;
    case "not_allowlisted":
      return `egress denied: ${target} port ${d.port} is a public address outside the allowlist (openInternet is off)`;
    case "address_class":
      return `egress denied: ${target} port ${d.port} is a ${d.addressClass} address${carried}`;
  }
}

export class FetchTooLargeError extends EgressError {
  constructor(
    readonly url: string,
    readonly maxBytes: number,
    /** Bytes seen when the fetch was stopped, or the announced Content-Length when it was refused up front. */
    readonly seenBytes: number,
  ) {
    super("fetch_too_large", `fetch ${url}: the body is larger than ${maxBytes} bytes (${seenBytes} seen)`);
  }
}

export class FetchTimeoutError extends EgressError {
  constructor(
    readonly url: string,
    readonly timeoutMs: number,
  ) {
    super("fetch_timeout", `fetch ${url}: not finished within ${timeoutMs} ms (connect, redirects and body)`);
  }
}

export class FetchTooManyRedirectsError extends EgressError {
  constructor(
    readonly url: string,
    readonly maxRedirects: number,
  ) {
    super("fetch_too_many_redirects", `fetch ${url}: more than ${maxRedirects} redirects`);
  }
}

/** The URL cannot be fetched as written: unparsable, a scheme other than http/https, or credentials in it. */
export class FetchUrlError extends EgressError {
  constructor(
    readonly url: string,
    readonly problem: string,
  ) {
    super("fetch_bad_url", `fetch ${JSON.stringify(url)}: ${problem}`);
  }
}

/** The connection failed or broke for a reason of the network's (refused, reset, name not found). */
export class FetchNetworkError extends EgressError {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super("fetch_network", `fetch ${url}: ${networkProblem(cause)}`, { cause });
  }
}

function networkProblem(cause: unknown): string {
  let at: unknown = cause;
  // undici wraps the socket's error (ECONNREFUSED, ENOTFOUND) in a TypeError("fetch failed"); name the innermost.
  while (at instanceof Error && at.cause instanceof Error) at = at.cause;
  if (!(at instanceof Error)) return String(at);
  const code = (at as { code?: unknown }).code;
  return typeof code === "string" ? `${code}: ${at.message}` : at.message;
}

/** The allow policy given to `createEgress` is malformed. */
export class EgressPolicyError extends EgressError {
  constructor(problem: string) {
    super("egress_bad_policy", `egress policy: ${problem}`);
  }
}
