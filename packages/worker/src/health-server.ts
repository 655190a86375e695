import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

export interface Readiness {
  ready: boolean;
  reason: string;
}

/**
 * Three read-only endpoints for probes and scraping. Plain node:http on purpose: a framework would add
 * start-up time and dependencies to every worker process for three GET routes.
 */
export async function startHealthServer(opts: { host: string; port: number; readiness: () => Readiness; registry: Registry }): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "application/json" }).end(JSON.stringify({ error: "method not allowed" }));
      return;
    }
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "ok" }));
    } else if (path === "/readyz") {
      const r = opts.readiness();
      res.writeHead(r.ready ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ ready: r.ready, reason: r.reason }));
    } else if (path === "/metrics") {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": opts.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(err.message),
      );
    } else {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: `no route ${path}; try /healthz, /readyz or /metrics` }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : opts.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
