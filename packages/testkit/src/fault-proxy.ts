import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";

/**
 * What the proxy does to the next request: answer it itself, drop it, let it through and drop the answer, or
 * let it through and hold the answer back (a slow provider, so that requests overlap).
 */
export type Fault =
  | { kind: "status"; status: number; retryAfter?: string }
  | { kind: "reset" }
  | { kind: "lose_response" }
  | { kind: "delay"; ms: number };

/**
 * An HTTP proxy on 127.0.0.1 in front of a server, for the failures a provider and the network cause: 5xx with
 * Retry-After, a connection reset before anything is sent (the server never saw the request), a response lost
 * in transit (the server did the work; the client sees only a reset), and a slow answer.
 */
export class FaultProxy {
  private readonly faults: Fault[] = [];
  /** Requests that reached the proxy, and how many of them it forwarded. */
  received = 0;
  forwarded = 0;

  private constructor(
    private readonly server: Server,
    readonly origin: string,
  ) {}

  static async start(target: string): Promise<FaultProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const proxy = new FaultProxy(server, `http://127.0.0.1:${address.port}`);
    server.on("request", (req: IncomingMessage, res: ServerResponse) => proxy.handle(req, res, new URL(target)));
    return proxy;
  }

  /** Faults for the next requests, in order; requests after them pass. */
  inject(...faults: Fault[]): void {
    this.faults.push(...faults);
  }

  /** Every request from now on gets `fault` (until `clear`). */
  always(fault: Fault): void {
    this.faults.length = 0;
    this.sticky = fault;
  }

  clear(): void {
    this.faults.length = 0;
    this.sticky = undefined;
  }

  private sticky: Fault | undefined;

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse, target: URL): void {
    this.received++;
    const fault = this.faults.shift() ?? this.sticky;
    if (fault?.kind === "reset") return void req.socket.destroy();
    if (fault?.kind === "status") {
      res.writeHead(fault.status, fault.retryAfter !== undefined ? { "retry-after": fault.retryAfter } : {});
      return void res.end(JSON.stringify({ error: "temporarily_unavailable" }));
    }
    this.forwarded++;
    const upstream = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on("data", (c: Buffer) => chunks.push(c));
        answer.on("end", () => {
          // The server has done the work and answered; the client never hears of it.
          if (fault?.kind === "lose_response") return void req.socket.destroy();
          const send = () => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(chunks));
          };
          if (fault?.kind === "delay") setTimeout(send, fault.ms);
          else send();
        });
      },
    );
    upstream.on("error", () => req.socket.destroy());
    req.pipe(upstream);
  }
}
