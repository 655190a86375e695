/**
 * The one way out for platform code (in progress): this commit classifies addresses.
 *
 * ```ts
 * import { classifyAddress } from "@tessera/egress";
 * classifyAddress("64:ff9b::a9fe:a9fe").addressClass; // "metadata" (169.254.169.254 through NAT64)
 * ```
 */
export { AddressClass, classifyAddress, type AddressVerdict } from "./address-class.js";
export { EmbeddingForm } from "./ipv4-embedding.js";
