import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { RFC6052_PLACEMENTS } from "../src/ipv4-embedding.js";

/** IPv4 ranges denied by default, as [first address as a 32-bit number, prefix length]. */
export const DENIED_IPV4_RANGES: readonly string[] = [
  "0.0.0.0/8",
  "127.0.0.0/8",
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "169.254.0.0/16",
  "169.254.169.254/32",
  "100.64.0.0/10",
  "224.0.0.0/4",
  "240.0.0.0/4",
  "255.255.255.255/32",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "198.18.0.0/15",
];

const toU32 = (address: string): number =>
  ipaddr.IPv4.parse(address)
    .toByteArray()
    .reduce((n, b) => n * 256 + b, 0);
const fromU32 = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");

/** A random address inside `cidr`. */
export function inRange(cidr: string): fc.Arbitrary<string> {
  const [base = "", bits = "32"] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  return fc.integer({ min: 0, max: size - 1 }).map((offset) => fromU32(toU32(base) + offset));
}

export const deniedIPv4 = fc.constantFrom(...DENIED_IPV4_RANGES).chain(inRange);
export const anyIPv4 = fc.integer({ min: 0, max: 2 ** 32 - 1 }).map(fromU32);
export const loopbackIPv4 = inRange("127.0.0.0/8");

type Radix = "dec" | "oct" | "hex";
const radix = fc.constantFrom<Radix>("dec", "oct", "hex");
function write(n: number, r: Radix, upper: boolean): string {
  if (r === "oct") return `0${n.toString(8)}`;
  if (r === "hex") return upper ? `0X${n.toString(16).toUpperCase()}` : `0x${n.toString(16)}`;
  return String(n);
}

/**
 * Every spelling of an IPv4 host that the WHATWG URL parser accepts: 1 to 4 parts (the last one filling the
 * remaining bytes), each decimal, octal or hex, optionally percent-encoded and with a trailing dot.
 */
export function ipv4Spelling(address: string): fc.Arbitrary<{ kind: string; host: string }> {
  const bytes = ipaddr.IPv4.parse(address).toByteArray();
  const tailValue = (from: number) => bytes.slice(from).reduce((n, b) => n * 256 + b, 0);
  return fc
    .record({
      parts: fc.integer({ min: 1, max: 4 }),
      radixes: fc.array(radix, { minLength: 4, maxLength: 4 }),
      upper: fc.boolean(),
      percent: fc.boolean(),
      trailingDot: fc.boolean(),
    })
    .map(({ parts, radixes, upper, percent, trailingDot }) => {
      const leading = bytes.slice(0, parts - 1);
      const numbers = [...leading, tailValue(parts - 1)];
      let host = numbers.map((n, i) => write(n, radixes[i] ?? "dec", upper)).join(".");
      if (trailingDot) host += ".";
      if (percent) host = host.replace(/[0-9]/g, (d) => `%3${d}`);
      const kind = `${parts} part(s) ${radixes.slice(0, parts).join("/")}${percent ? " %-encoded" : ""}`;
      return { kind, host };
    });
}

function v6(bytes: readonly number[]): string {
  return ipaddr.fromByteArray([...bytes]).toString();
}

/** Each IPv6 form that carries `address`, written as a URL host (in brackets). */
export function ipv6Embeddings(address: string): fc.Arbitrary<{ kind: string; host: string }> {
  const v4 = ipaddr.IPv4.parse(address).toByteArray();
  const inv = v4.map((b) => b ^ 0xff);
  const at = (prefix: readonly number[], offsets: readonly number[], value: readonly number[], rest: number[]) => {
    const bytes = [...prefix, ...new Array<number>(16 - prefix.length).fill(0)];
    rest.forEach((b, i) => {
      if (!offsets.includes(prefix.length + i) && prefix.length + i < 16) bytes[prefix.length + i] = b;
    });
    offsets.forEach((o, i) => (bytes[o] = value[i] ?? 0));
    return bytes;
  };
  const noise = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 16, maxLength: 16 });
  return fc.tuple(fc.integer({ min: 0, max: 8 }), noise, fc.boolean()).map(([which, rest, dotted]) => {
    const dottedTail = (hex: string) => (dotted ? hex.replace(/[0-9a-f]+:[0-9a-f]+$/, address) : hex);
    switch (which) {
      case 0:
        return {
          kind: "ipv4_mapped",
          host: `[${dotted ? `::ffff:${address}` : v6(at([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], [12, 13, 14, 15], v4, []))}]`,
        };
      case 1:
        return { kind: "ipv4_mapped, long form", host: `[0:0:0:0:0:ffff:${address}]` };
      case 2:
        return { kind: "ipv4_compatible", host: `[::${address}]` };
      case 3:
        return {
          kind: "ipv4_translated",
          host: `[${dottedTail(v6(at([0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0], [12, 13, 14, 15], v4, [])))}]`,
        };
      case 4:
        return {
          kind: "nat64",
          host: `[${dotted ? `64:ff9b::${address}` : v6(at([0, 0x64, 0xff, 0x9b], [12, 13, 14, 15], v4, []))}]`,
        };
      case 5: {
        const placement = rest[0]! % RFC6052_PLACEMENTS.length;
        const offsets = RFC6052_PLACEMENTS[placement]!;
        return {
          kind: `nat64_local placement ${placement}`,
          host: `[${v6(at([0, 0x64, 0xff, 0x9b, 0, 1], offsets, v4, []))}]`,
        };
      }
      case 6:
        return { kind: "6to4", host: `[${v6(at([0x20, 0x02], [2, 3, 4, 5], v4, rest))}]` };
      case 7:
        return { kind: "teredo", host: `[${v6(at([0x20, 0x01, 0, 0], [12, 13, 14, 15], inv, rest))}]` };
      default:
        return {
          kind: "ipv4_mapped, hex",
          host: `[::ffff:${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}]`,
        };
    }
  });
}
