import type { Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { ComponentSpecSchema } from "@tessera/contract";
import ipaddr from "ipaddr.js";
import { AddressClass, classifyAddress, connectedAddress } from "./address-class.js";
import { EgressPolicyError, type Denial } from "./errors.js";

const AllowlistSchema = ComponentSpecSchema.properties.allowlist;

/**
 * What may be reached: the Component spec's `allowlist`, read the same way as its NetworkPolicy. `cidrs` open
 * those ranges even where the address class is denied by default (a test allows its loopback server this way),
 * `openInternet` opens every public address, `ports` (TCP) narrows both. `clusterPeers` select pods by label, which
 * an address cannot be checked against, so they open nothing here.
 */
export type EgressAllowlist = Static<typeof AllowlistSchema>;

/** Public internet on any port, nothing else: what platform code fetching a user's URL needs. */
export const OPEN_INTERNET: EgressAllowlist = Object.freeze({ openInternet: true });

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

export interface EgressPolicy {
  /** Refuses a port before anything is resolved, so a denied port never costs a lookup. */
  checkPort(host: string, port: number): Denial | undefined;
  /** Decides one address the connection would be made to; undefined means it may be dialed. */
  checkAddress(host: string, port: number, address: string): Denial | undefined;
}

function parseCidr(text: string, index: number): Cidr {
  let cidr: Cidr;
  try {
    cidr = ipaddr.parseCIDR(text);
  } catch {
    throw new EgressPolicyError(`cidrs[${index}]: ${JSON.stringify(text)} is not a CIDR such as 203.0.113.0/24`);
  }
  if (cidr[1] === 0) throw new EgressPolicyError(`cidrs[${index}]: /0 is not a CIDR to allow; use openInternet`);
  const [address, bits] = cidr;
  // A socket given ::ffff:a.b.c.d connects to a.b.c.d, and addresses are matched as connected, so match as IPv4.
  if (address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96)
    return [(address as ipaddr.IPv6).toIPv4Address(), bits - 96];
  return cidr;
}

function schemaProblem(allow: unknown): string | undefined {
  if (Value.Check(AllowlistSchema, allow)) return undefined;
  const first = Value.Errors(AllowlistSchema, allow).First();
  return first ? `${first.path || "(root)"}: ${first.message}` : "does not match the Component spec's allowlist";
}

/** Checks `allow` against the contract's schema and prepares its CIDRs. Throws `EgressPolicyError`. */
export function compilePolicy(allow: EgressAllowlist = OPEN_INTERNET): EgressPolicy {
  const problem = schemaProblem(allow);
  if (problem !== undefined) throw new EgressPolicyError(problem);
  const cidrs = (allow.cidrs ?? []).map(parseCidr);
  const tcpPorts = allow.ports?.filter((p) => (p.protocol ?? "TCP") === "TCP").map((p) => p.port);
  const portListed =
    allow.ports === undefined || allow.ports.length === 0 ? () => true : (port: number) => tcpPorts!.includes(port);
  const openInternet = allow.openInternet === true;

  const inCidrs = (address: string): boolean => {
    const connected = connectedAddress(address);
    return cidrs.some(([net, bits]) => net.kind() === connected.kind() && connected.match(net, bits));
  };

  return {
    checkPort(host, port) {
      return portListed(port) ? undefined : { rule: "port", host, port };
    },
    checkAddress(host, port, address) {
      const verdict = classifyAddress(address);
      const seen = {
        host,
        port,
        address: verdict.address,
        addressClass: verdict.addressClass,
        ...(verdict.embedded ? { embedded: verdict.embedded } : {}),
      };
      // Metadata endpoints hand out credentials: no allowlist opens them, whatever CIDR it lists.
      if (verdict.addressClass === AddressClass.Metadata || verdict.addressClass === AddressClass.Invalid)
        return { rule: "address_class", ...seen };
      // The address is judged before the port: "10.0.0.1 is private" says more than "port 80 is not listed".
      const opened = inCidrs(verdict.address) || (openInternet && verdict.addressClass === AddressClass.Public);
      if (!opened)
        return { rule: verdict.addressClass === AddressClass.Public ? "not_allowlisted" : "address_class", ...seen };
      return portListed(port) ? undefined : { rule: "port", ...seen };
    },
  };
}
