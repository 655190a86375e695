/**
 * The one way out for platform code: fetch a URL that a user or a tenant gave us without letting it reach the
 * cluster, the node or the cloud's metadata service.
 *
 * ```ts
 * import { createEgress, EgressError } from "@tessera/egress";
 * const egress = createEgress(); // public internet only; or { allow: spec.allowlist }
 * try {
 *   const res = await egress.fetch(sourceUrl, { maxBytes: 8 * 1024 * 1024, timeoutMs: 20_000 });
 *   if (!res.ok) return fail(`fetch_http_${res.status}`);
 *   const bytes = new Uint8Array(await res.arrayBuffer()); // fails with fetch_too_large past maxBytes
 * } catch (err) {
 *   if (err instanceof EgressError) return fail(err.code, err.message); // egress_denied, fetch_timeout, ...
 *   throw err;
 * }
 * await egress.close();
 * ```
 *
 * Every connection's address is checked when it is dialed (so DNS rebinding cannot swap it after a check), every
 * redirect is checked again, and bytes and time are capped. docs/decisions/0019-egress-guard.md says what is denied.
 */
export {
  createEgress,
  EGRESS_DEFAULTS,
  type Egress,
  type EgressOptions,
  type EgressFetchInit,
  type EgressLimits,
} from "./egress.js";
export { compilePolicy, OPEN_INTERNET, type EgressAllowlist, type EgressPolicy } from "./policy.js";
export { AddressClass, classifyAddress, type AddressVerdict } from "./address-class.js";
export { EmbeddingForm } from "./ipv4-embedding.js";
export { systemResolver, type Resolver, type ResolvedAddress } from "./dial-guard.js";
export { parseTarget, type Target } from "./target.js";
export {
  EgressError,
  EgressDeniedError,
  EgressPolicyError,
  FetchNetworkError,
  FetchTimeoutError,
  FetchTooLargeError,
  FetchTooManyRedirectsError,
  FetchUrlError,
  type Denial,
  type DenyRule,
} from "./errors.js";
