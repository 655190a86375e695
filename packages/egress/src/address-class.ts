import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { embeddedIPv4, type EmbeddingForm } from "./ipv4-embedding.js";

/**
 * Why an address is or is not on the open internet. The names are stable: they end up in `egress_denied`
 * errors and, through them, in job reason details.
 */
export const AddressClass = {
  Public: "public",
  Metadata: "metadata",
  Unspecified: "unspecified",
  Loopback: "loopback",
  Private: "private",
  LinkLocal: "link_local",
  Cgnat: "cgnat",
  Multicast: "multicast",
  Broadcast: "broadcast",
  Documentation: "documentation",
  Benchmarking: "benchmarking",
  UniqueLocal: "unique_local",
  Reserved: "reserved",
  /** Not an IP address a socket would take (a resolver answered something else). */
  Invalid: "invalid",
} as const;
export type AddressClass = (typeof AddressClass)[keyof typeof AddressClass];

type Table<T extends ipaddr.IPv4 | ipaddr.IPv6> = readonly (readonly [AddressClass, T, number])[];

function table<T extends ipaddr.IPv4 | ipaddr.IPv6>(
  parse: (text: string) => [T, number],
  rows: readonly (readonly [AddressClass, readonly string[]])[],
): Table<T> {
  return rows.flatMap(([kind, cidrs]) => cidrs.map((c) => [kind, ...parse(c)] as const));
}

// First match wins, so the metadata addresses come before the link-local and CGNAT ranges that hold them.
const IPV4: Table<ipaddr.IPv4> = table(
  (c) => ipaddr.IPv4.parseCIDR(c),
  [
    // AWS/GCP/Azure/OpenStack, ECS task metadata, EKS pod identity, Alibaba Cloud.
    [AddressClass.Metadata, ["169.254.169.254/32", "169.254.170.2/32", "169.254.170.23/32", "100.100.100.200/32"]],
    [AddressClass.Unspecified, ["0.0.0.0/8"]],
    [AddressClass.Loopback, ["127.0.0.0/8"]],
    [AddressClass.Private, ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]],
    [AddressClass.LinkLocal, ["169.254.0.0/16"]],
    [AddressClass.Cgnat, ["100.64.0.0/10"]],
    [AddressClass.Multicast, ["224.0.0.0/4"]],
    [AddressClass.Broadcast, ["255.255.255.255/32"]],
    [AddressClass.Documentation, ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"]],
    [AddressClass.Benchmarking, ["198.18.0.0/15"]],
    [AddressClass.Reserved, ["192.0.0.0/24", "192.88.99.0/24", "240.0.0.0/4"]],
  ],
);

// IPv6's own addresses that sit inside ranges read as IPv4 carriers (::/96) or as unique-local (fc00::/7).
const IPV6_FIRST: Table<ipaddr.IPv6> = table(
  (c) => ipaddr.IPv6.parseCIDR(c),
  [
    // AWS's IPv6 instance metadata service and EKS pod identity agent.
    [AddressClass.Metadata, ["fd00:ec2::254/128", "fd00:ec2::23/128"]],
    [AddressClass.Unspecified, ["::/128"]],
    [AddressClass.Loopback, ["::1/128"]],
  ],
);

const IPV6: Table<ipaddr.IPv6> = table(
  (c) => ipaddr.IPv6.parseCIDR(c),
  [
    [AddressClass.LinkLocal, ["fe80::/10"]],
    [AddressClass.UniqueLocal, ["fc00::/7"]],
    [AddressClass.Multicast, ["ff00::/8"]],
    [AddressClass.Documentation, ["2001:db8::/32", "3fff::/20"]],
    [AddressClass.Benchmarking, ["2001:2::/48"]],
    // Site-local (deprecated), discard-only, IETF protocol assignments (Teredo is unwrapped before this table).
    [AddressClass.Reserved, ["fec0::/10", "100::/64", "2001::/23"]],
  ],
);

// Only 2000::/3 is allocated for global unicast; the rest of the space is reserved or unassigned.
const GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR("2000::/3");

export interface AddressVerdict {
  addressClass: AddressClass;
  /** The address as a socket is given it: dotted IPv4 or RFC 5952 IPv6. */
  address: string;
  /** Set when the class came from an IPv4 address carried inside an IPv6 one. */
  embedded?: { form: EmbeddingForm; ipv4: string };
}

function lookup<T extends ipaddr.IPv4 | ipaddr.IPv6>(rows: Table<T>, address: T): AddressClass | undefined {
  return rows.find(([, net, bits]) => address.match(net, bits))?.[0];
}

function classifyIPv4(address: ipaddr.IPv4): AddressClass {
  const listed = lookup(IPV4, address);
  if (listed !== undefined) return listed;
  // ipaddr.js knows a few special-purpose ranges this table leaves out (AS112, AMT): deny them too.
  return address.range() === "unicast" ? AddressClass.Public : AddressClass.Reserved;
}

function classifyIPv6(address: ipaddr.IPv6): Omit<AddressVerdict, "address"> {
  const own = lookup(IPV6_FIRST, address);
  if (own !== undefined) return { addressClass: own };
  const carried = embeddedIPv4(address);
  if (carried.length > 0) {
    // One denied reading denies the address: a NAT64 local-use address has several (see RFC6052_PLACEMENTS).
    const readings = carried.map((c) => ({ ...c, addressClass: classifyIPv4(c.ipv4) }));
    const worst = readings.find((r) => r.addressClass !== AddressClass.Public) ?? readings[0]!;
    return { addressClass: worst.addressClass, embedded: { form: worst.form, ipv4: worst.ipv4.toString() } };
  }
  const listed = lookup(IPV6, address);
  if (listed !== undefined) return { addressClass: listed };
  if (!address.match(GLOBAL_UNICAST)) return { addressClass: AddressClass.Reserved };
  return { addressClass: address.range() === "unicast" ? AddressClass.Public : AddressClass.Reserved };
}

/**
 * ipaddr.js reads `::a.b.c.d` as the IPv4-mapped `::ffff:a.b.c.d`; the kernel (and the URL parser) read it as the
 * IPv4-compatible `::a.b.c.d`. Writing the dotted tail as hex first makes ipaddr.js parse what the socket dials.
 */
function hexTail(text: string): string {
  const [address = "", zone] = text.split("%", 2);
  const hex = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a: string, b: string, c: string, d: string) => {
    const group = (hi: string, lo: string) => ((Number(hi) << 8) | Number(lo)).toString(16);
    return `${group(a, b)}:${group(c, d)}`;
  });
  return zone === undefined ? hex : `${hex}%${zone}`;
}

/**
 * Classifies an address in the form a socket takes it (what `net.isIP` accepts: dotted-decimal IPv4 without
 * leading zeros, or IPv6). Anything else is `invalid`: URL hosts are normalized by the WHATWG parser before they
 * get here, and a resolver that answers `0x7f.1` is not trusted to mean what we would read it as.
 */
export function classifyAddress(text: string): AddressVerdict {
  const family = isIP(text);
  if (family === 0) return { addressClass: AddressClass.Invalid, address: text };
  if (family === 4) {
    const address = ipaddr.IPv4.parse(text);
    return { addressClass: classifyIPv4(address), address: address.toString() };
  }
  const address = ipaddr.IPv6.parse(hexTail(text));
  return { ...classifyIPv6(address), address: address.toRFC5952String() };
}

/** The address the kernel actually connects to: an IPv4-mapped IPv6 address is its IPv4 address. */
export function connectedAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 {
  return ipaddr.process(isIP(text) === 6 ? hexTail(text) : text);
}
