import ipaddr from "ipaddr.js";

/** The ways an IPv6 address can carry an IPv4 address that a router, a translator or the kernel will act on. */
export const EmbeddingForm = {
  Mapped: "ipv4_mapped",
  Translated: "ipv4_translated",
  Compatible: "ipv4_compatible",
  Nat64: "nat64",
  Nat64Local: "nat64_local",
  SixToFour: "6to4",
  Teredo: "teredo",
} as const;
export type EmbeddingForm = (typeof EmbeddingForm)[keyof typeof EmbeddingForm];

export interface EmbeddedIPv4 {
  form: EmbeddingForm;
  ipv4: ipaddr.IPv4;
}

const cidr = (text: string): [ipaddr.IPv6, number] => ipaddr.IPv6.parseCIDR(text);
const MAPPED = cidr("::ffff:0:0/96");
const TRANSLATED = cidr("::ffff:0:0:0/96");
const COMPATIBLE = cidr("::/96");
const NAT64 = cidr("64:ff9b::/96");
const NAT64_LOCAL = cidr("64:ff9b:1::/48");
const SIX_TO_FOUR = cidr("2002::/16");
const TEREDO = cidr("2001::/32");

function ipv4At(bytes: readonly number[], offsets: readonly number[], invert = false): ipaddr.IPv4 {
  return new ipaddr.IPv4(offsets.map((i) => ((bytes[i] ?? 0) ^ (invert ? 0xff : 0)) & 0xff));
}

/**
 * RFC 6052 places the IPv4 address after the prefix and skips byte 8 (the "u" octet), so where it sits depends on
 * the prefix length the operator chose. The local-use prefix 64:ff9b:1::/48 may be used with any length from /48
 * on, so every placement is read: an attacker may pick the one the local translator uses.
 */
export const RFC6052_PLACEMENTS: readonly (readonly number[])[] = [
  [12, 13, 14, 15], // /96, the usual one, first so that its reading names the class when it is denied
  [9, 10, 11, 12], // /64
  [7, 9, 10, 11], // /56
  [6, 7, 9, 10], // /48
];

/**
 * The IPv4 addresses an IPv6 address carries, in every form the kernel or a translator acts on. An empty list
 * means the address is plain IPv6. `::` and `::1` are not IPv4-compatible addresses (they are IPv6's own
 * unspecified and loopback addresses); the caller classifies them first.
 */
export function embeddedIPv4(address: ipaddr.IPv6): EmbeddedIPv4[] {
  const bytes = address.toByteArray();
  const last4 = [12, 13, 14, 15];
  if (address.match(MAPPED)) return [{ form: EmbeddingForm.Mapped, ipv4: ipv4At(bytes, last4) }];
  if (address.match(TRANSLATED)) return [{ form: EmbeddingForm.Translated, ipv4: ipv4At(bytes, last4) }];
  if (address.match(COMPATIBLE)) return [{ form: EmbeddingForm.Compatible, ipv4: ipv4At(bytes, last4) }];
  if (address.match(NAT64)) return [{ form: EmbeddingForm.Nat64, ipv4: ipv4At(bytes, last4) }];
  if (address.match(NAT64_LOCAL))
    return RFC6052_PLACEMENTS.map((at) => ({ form: EmbeddingForm.Nat64Local, ipv4: ipv4At(bytes, at) }));
  if (address.match(SIX_TO_FOUR)) return [{ form: EmbeddingForm.SixToFour, ipv4: ipv4At(bytes, [2, 3, 4, 5]) }];
  // Teredo stores the client's address inverted (RFC 4380), so that NATs do not rewrite it in the payload.
  if (address.match(TEREDO)) return [{ form: EmbeddingForm.Teredo, ipv4: ipv4At(bytes, last4, true) }];
  return [];
}
