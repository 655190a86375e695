/**
 * The one way out for platform code (in progress): address classes and the allow policy.
 *
 * ```ts
 * import { compilePolicy } from "@tessera/egress";
 * const policy = compilePolicy(spec.allowlist); // the Component spec's allowlist; default: public internet only
 * policy.checkAddress("api.example.com", 443, "10.0.0.7"); // { rule: "address_class", addressClass: "private", ... }
 * ```
 */
export { compilePolicy, OPEN_INTERNET, type EgressAllowlist, type EgressPolicy } from "./policy.js";
export { AddressClass, classifyAddress, type AddressVerdict } from "./address-class.js";
export { EmbeddingForm } from "./ipv4-embedding.js";
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
