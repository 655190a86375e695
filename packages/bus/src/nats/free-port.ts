import { createServer } from "node:net";

/**
 * Asks the kernel for a port that is free on `host` right now. Another process may take it before the
 * caller binds it; a server that then fails to start says so in its own error.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === "object" && addr !== null ? resolve(addr.port) : reject(new Error(`no free port on ${host}`)),
      );
    });
  });
}
