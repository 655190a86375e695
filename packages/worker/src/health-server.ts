import { buildInfo } from "@tessera/contract";
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

export interface Readiness {
  ready: boolean;
  /** Why not (or "consuming" when ready); shown in /readyz's body. */
  reason: string;
}

export interface HealthServer {
  /** The port actually bound (the ephemeral one when asked for port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The worker's probe and scrape endpoints: `/healthz`, `/readyz`, `/metrics`.
 *
 * Plain `node:http` on purpose: three read-only GET routes do not justify a framework's dependencies and
 * start-up time in every worker process, and probes must keep answering while handlers are busy.
 */
export async function startHealthServer(opts: {
  host: string;
  port: number;
  readiness: () => Readiness;
  registry: Registry;
}): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const json = (status: number, body: unknown): void => {
      res
        .writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" })
        .end(JSON.stringify(body));
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      json(405, { error: `method ${req.method ?? ""} not allowed; use GET` });
      return;
    }
    switch (path) {
      case "/healthz":
        // Answering at all proves the event loop runs; that is what liveness means for a worker.
        json(200, { status: "ok", ...buildInfo(process.env) });
        return;
      case "/readyz": {
        const r = opts.readiness();
        json(r.ready ? 200 : 503, { ready: r.ready, reason: r.reason });
        return;
      }
      case "/metrics":
        opts.registry.metrics().then(
          (text) => res.writeHead(200, { "content-type": opts.registry.contentType }).end(text),
          (err: unknown) => json(500, { error: `metrics unavailable: ${String(err)}` }),
        );
        return;
      default:
        json(404, { error: `no route ${path ?? ""}; try /healthz, /readyz or /metrics` });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : opts.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Probes and scrapes use keep-alive; do not let an idle connection hold the drain open.
        server.closeIdleConnections();
      }),
  };
}
