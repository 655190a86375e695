import { promises as dns, type LookupAddress, type LookupOptions } from "node:dns";
import { isIP, type LookupFunction, type Socket } from "node:net";
import type { ConnectionOptions } from "node:tls";
import { Agent, buildConnector } from "undici";
import { EgressDeniedError } from "./errors.js";
import type { EgressPolicy } from "./policy.js";

export interface ResolvedAddress {
  address: string;
  family: number;
}

/**
 * Turns a host name into addresses. Tests inject one so that no real name is ever resolved; in production it is
 * the system resolver (getaddrinfo, so /etc/hosts and search domains apply, as they do for every other client).
 */
export type Resolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export const systemResolver: Resolver = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

function notFound(hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND", hostname });
}

/**
 * net.connect calls this right before it dials, and dials exactly what it returns: the check and the connection
 * use one answer, so a name that resolves to a public address for a pre-check and to 127.0.0.1 a moment later
 * (DNS rebinding) is refused here. Every answer must pass, not just the first: with autoSelectFamily, Node may
 * try each of them.
 */
function guardedLookup(policy: EgressPolicy, resolve: Resolver, port: number): LookupFunction {
  return (hostname: string, options: LookupOptions, callback) => {
    const wanted =
      options.family === 4 || options.family === "IPv4" ? 4 : options.family === 6 || options.family === "IPv6" ? 6 : 0;
    resolve(hostname)
      .then((answers) => {
        const usable = answers
          .map((a) => ({ address: a.address, family: isIP(a.address) }))
          .filter((a) => wanted === 0 || a.family === wanted || a.family === 0);
        if (usable.length === 0) throw notFound(hostname);
        for (const { address } of usable) {
          const denial = policy.checkAddress(hostname, port, address);
          if (denial !== undefined) throw new EgressDeniedError(denial);
        }
        if (options.all === true) callback(null, usable as LookupAddress[]);
        else callback(null, usable[0]!.address, usable[0]!.family);
      })
      .catch((err: NodeJS.ErrnoException) => callback(err, "", 0));
  };
}

export interface GuardedAgentOptions {
  /**
   * Passed to undici's connector: whom TLS trusts (`ca`: a test's own certificate), a client certificate, and
   * the connect timeout in ms (undici's default 10 s). Nothing that could change where a socket goes.
   */
  connect?: Pick<ConnectionOptions, "ca" | "cert" | "key"> & { timeout?: number };
}

// One connector per port so that the lookup knows the port it decides for; an unbounded map of them would let a
// caller who controls URLs grow it, so it is cleared past this size (a connector holds only a TLS session cache).
const MAX_CONNECTORS = 64;

/**
 * An undici Agent whose every connection is checked where it is made: IP-literal hosts before dialing (net.connect
 * does not call `lookup` for them), names in `lookup`, and the socket's remote address once connected, as a last
 * line should a path ever skip the other two.
 */
export function createGuardedAgent(policy: EgressPolicy, resolve: Resolver, options: GuardedAgentOptions = {}): Agent {
  const connectors = new Map<number, buildConnector.connector>();
  const connectorFor = (port: number): buildConnector.connector => {
    let connector = connectors.get(port);
    if (connector === undefined) {
      if (connectors.size >= MAX_CONNECTORS) connectors.clear();
      connector = buildConnector({ ...options.connect, lookup: guardedLookup(policy, resolve, port) });
      connectors.set(port, connector);
    }
    return connector;
  };

  const connect: buildConnector.connector = (opts, callback) => {
    const port = Number(opts.port) || (opts.protocol === "https:" ? 443 : 80);
    const host = opts.hostname;
    const refused = isIP(host) !== 0 ? policy.checkAddress(host, port, host) : policy.checkPort(host, port);
    if (refused !== undefined) return callback(new EgressDeniedError(refused), null);
    connectorFor(port)(opts, (err, socket) => {
      if (err !== null) return callback(err, null);
      const landed = policy.checkAddress(host, port, (socket as Socket).remoteAddress ?? "");
      if (landed === undefined) return callback(null, socket);
      socket.destroy();
      callback(new EgressDeniedError(landed), null);
    });
  };
  return new Agent({ connect });
}
