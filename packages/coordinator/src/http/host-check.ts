import { isIP } from "node:net";
import type { FastifyInstance } from "fastify";
import { clipText } from "../clip-text.js";
import { isLoopbackHost, type AccessPolicy } from "./access-guard.js";
import { ApiError } from "./api-error.js";

/** The host name a Host header names: lower-case, IPv6 without brackets, without a trailing dot; undefined if malformed. */
function hostNameOf(header: string): string | undefined {
  let hostname: string;
  try {
    const url = new URL(`http://${header}`);
    // Anything beyond host[:port] (a path, credentials) makes it something other than a Host header.
    if (url.host.length === 0 || `${url.username}${url.password}${url.pathname}${url.search}${url.hash}` !== "/")
      return undefined;
    hostname = url.hostname;
  } catch {
    return undefined;
  }
  return hostname.replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
}

/**
 * Why a request naming `header` in its Host header is refused, or undefined when it is not.
 *
 * DNS rebinding points a name the attacker owns at this server's address: the browser then sends that name
 * as Host, and treats the answers as the attacker page's own. So only names that cannot be the attacker's are
 * taken: IP addresses (a page cannot be served from this server's address by anyone else), `localhost`,
 * and the names configured in `admin.allowedHosts`. When the server listens beyond loopback and no names
 * are configured it cannot know the names it is reached by (a Service, an ingress), so any is taken. The
 * port is not compared: a browser always sends the one it connected to, so only a proxy in front (the
 * dashboard's dev server) could send another, and refusing it would protect nothing.
 */
export function hostRefusal(policy: AccessPolicy, header: string | undefined): string | undefined {
  const name = header === undefined ? undefined : hostNameOf(header);
  if (name !== undefined) {
    if (isIP(name) !== 0 || name === "localhost") return undefined;
    if (policy.allowedHosts?.includes(name) === true) return undefined;
    if (policy.allowedHosts === undefined && !isLoopbackHost(policy.host)) return undefined;
  }
  const names = ["localhost", "IP addresses", ...(policy.allowedHosts ?? [])].join(", ");
  const sent = header === undefined ? "no Host header" : `Host ${JSON.stringify(clipText(header, 100))}`;
  return `refused a request with ${sent}: this admin API answers only to ${names}, so that a web page whose own name points at this address (DNS rebinding) cannot use it; to reach it by another name, list the name in admin.allowedHosts (TESSERA_ADMIN_ALLOWED_HOSTS)`;
}

/** Refuses, before anything else runs, a request whose Host header names this server by a name it does not answer to. */
export function installHostCheck(app: FastifyInstance, policy: AccessPolicy): void {
  app.addHook("onRequest", async (request) => {
    const refusal = hostRefusal(policy, request.headers.host);
    if (refusal !== undefined) throw new ApiError(403, "forbidden", refusal);
  });
}
