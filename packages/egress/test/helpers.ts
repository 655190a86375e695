import dns from "node:dns";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isIP, Socket } from "node:net";
import { vi } from "vitest";
import { classifyAddress, type Resolver } from "../src/index.js";

export interface TestServer {
  port: number;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** TCP connections accepted so far: a refused dial must leave this unchanged. */
  connections: number;
  requests: string[];
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** An HTTP server on 127.0.0.1 only, on a free port. */
export async function startServer(handler: Handler): Promise<TestServer> {
  const server: Server = createServer((req, res) => {
    state.requests.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  const state: TestServer = {
    port: 0,
    origin: "",
    connections: 0,
    requests: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on("connection", () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  state.port = address.port;
  state.origin = `http://127.0.0.1:${address.port}`;
  return state;
}

/** A resolver that knows only the names it is given, each mapped to the answers of its successive lookups. */
export function scriptedResolver(
  names: Record<string, readonly (readonly string[])[]>,
): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const seen = new Map<string, number>();
  const resolve = async (hostname: string) => {
    calls.push(hostname);
    const script = names[hostname];
    if (script === undefined)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    const n = seen.get(hostname) ?? 0;
    seen.set(hostname, n + 1);
    const answers = script[Math.min(n, script.length - 1)] ?? [];
    return answers.map((address) => ({ address, family: isIP(address) }));
  };
  return Object.assign(resolve, { calls });
}

/**
 * A safety net under the guard being tested: should it ever let a dial through to anything but loopback or a
 * `.test` name (which only the scripted resolver answers), or reach for the system resolver, the test fails before
 * a packet leaves the machine. Call it in `beforeEach`; vitest's `restoreMocks` is not relied on, so restore it with
 * `vi.restoreAllMocks()` in `afterEach`.
 */
export function forbidNonLoopbackDials(): void {
  // An address "resolves" to itself without a query (server.listen does that), so only names are refused.
  const realLookup = dns.lookup;
  const realPromisesLookup = dns.promises.lookup;
  const refuseNames = (host: unknown) => {
    if (typeof host !== "string" || isIP(host) === 0)
      throw new Error(`test tried to resolve ${String(host)} for real: inject a resolver`);
  };
  vi.spyOn(dns, "lookup").mockImplementation(((host: string, ...rest: unknown[]) => {
    refuseNames(host);
    return (realLookup as (...a: unknown[]) => void)(host, ...rest);
  }) as typeof dns.lookup);
  vi.spyOn(dns.promises, "lookup").mockImplementation(((host: string, ...rest: unknown[]) => {
    refuseNames(host);
    return (realPromisesLookup as (...a: unknown[]) => Promise<unknown>)(host, ...rest);
  }) as typeof dns.promises.lookup);
  const original = Socket.prototype.connect;
  vi.spyOn(Socket.prototype, "connect").mockImplementation(function (this: Socket, ...args: unknown[]) {
    const first = args[0];
    const options = (Array.isArray(first) ? first[0] : first) as { host?: string } | undefined;
    const host = options?.host ?? "localhost";
    const safe = host.endsWith(".test") || (isIP(host) !== 0 && classifyAddress(host).addressClass === "loopback");
    if (!safe) throw new Error(`test tried to dial ${host}: only loopback is allowed in tests`);
    return (original as (...a: unknown[]) => Socket).apply(this, args);
  });
}

export function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (err: unknown) => err,
  );
}
