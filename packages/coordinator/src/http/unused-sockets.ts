import type { Server } from "node:http";
import type { Socket } from "node:net";

/**
 * Node's `server.close()` waits for a connection that has not sent a request yet (a browser's pre-connect,
 * an HTTP client's spare socket) until the headers timeout, a minute by default; such a socket carries no
 * work, so closing can destroy it at once. Call `destroyAll()` right after starting to close.
 */
export function trackUnusedSockets(server: Server): { destroyAll(): void } {
  const unused = new Set<Socket>();
  let closing = false;
  server.on("connection", (socket: Socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    unused.add(socket);
    socket.once("close", () => unused.delete(socket));
  });
  server.on("request", (request: { socket: Socket }) => unused.delete(request.socket));
  return {
    destroyAll() {
      closing = true;
      for (const socket of unused) socket.destroy();
      unused.clear();
    },
  };
}
