import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";

export type Route = (req: IncomingMessage, res: ServerResponse) => void;

/** A document server on 127.0.0.1 (a free port): what a source_locator points at in these tests. */
export interface SourceServer {
  port: number;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** Every request, in order. */
  requests: Array<{ path: string; headers: IncomingHttpHeaders }>;
  /** Requests made for `path`. */
  hits(path: string): number;
  route(path: string, handler: Route): void;
  close(): Promise<void>;
}

export async function startSourceServer(): Promise<SourceServer> {
  const routes = new Map<string, Route>();
  const requests: SourceServer["requests"] = [];
  const server = createServer((req, res) => {
    const path = req.url ?? "/";
    requests.push({ path, headers: req.headers });
    const handler = routes.get(path);
    if (handler === undefined) res.writeHead(404).end("no such document");
    else handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the source server has no port");
  return {
    port: address.port,
    origin: `http://127.0.0.1:${address.port}`,
    requests,
    hits: (path) => requests.filter((r) => r.path === path).length,
    route: (path, handler) => void routes.set(path, handler),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A route that answers `body` with `type`. */
export function serve(body: string | Uint8Array, type = "text/plain; charset=utf-8"): Route {
  return (_req, res) => void res.writeHead(200, { "content-type": type }).end(body);
}

/** A route that redirects to `location`. */
export function redirect(location: string, status = 302): Route {
  return (_req, res) => void res.writeHead(status, { location }).end();
}
