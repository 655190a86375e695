import type { ServerResponse } from "node:http";
import type { FastifyInstance, FastifyReply } from "fastify";
import { ApiError } from "./api-error.js";

/** Proxies and load balancers drop connections idle for ~30-60 s; a comment line keeps the stream alive. */
export const SSE_HEARTBEAT_MS = 15_000;

// A client that stops reading would make the coordinator buffer every event for it; it is cut off instead.
const MAX_BUFFERED_BYTES = 1024 * 1024;

/** How long a client refused for too many open streams is asked to wait before it tries again. */
const RETRY_AFTER_SECONDS = 5;

/**
 * The admin API's server-sent event streams (job events, the gateway's tail): at most `maxStreams` open at
 * once across them, each with a heartbeat, each cut off when its client stops reading, all ended on close.
 */
export class EventStreams {
  private readonly open = new Set<ServerResponse>();

  constructor(
    app: FastifyInstance,
    private readonly maxStreams: number,
  ) {
    // Streams never end by themselves; without this, close() would wait for every client to hang up.
    app.addHook("preClose", async () => {
      for (const stream of this.open) stream.end();
    });
  }

  /**
   * Answers 503 when too many are open; otherwise takes the reply over, calls `subscribe` with a sender and
   * calls what it returns once the client is gone.
   */
  serve(reply: FastifyReply, subscribe: (send: (event: string, data: unknown) => void) => () => void): unknown {
    // Each stream holds a socket, a subscription and a timer for as long as the client likes.
    if (this.open.size >= this.maxStreams) {
      const refusal = new ApiError(
        503,
        "unavailable",
        `too many event streams are open (${this.maxStreams}, the admin.maxEventStreams limit); retry in ${RETRY_AFTER_SECONDS} s`,
      );
      return reply.code(503).header("retry-after", String(RETRY_AFTER_SECONDS)).send(refusal.toBody());
    }
    reply.hijack();
    const stream = reply.raw;
    stream.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    });
    // Flushes the headers at once, so the client knows it is subscribed before the first event.
    stream.write(": subscribed\n\n");
    const write = (chunk: string): void => {
      if (stream.writableLength > MAX_BUFFERED_BYTES) stream.destroy();
      else stream.write(chunk);
    };
    const unsubscribe = subscribe((event, data) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
    const heartbeat = setInterval(() => write(": heartbeat\n\n"), SSE_HEARTBEAT_MS);
    const stop = (): void => {
      clearInterval(heartbeat);
      unsubscribe();
      this.open.delete(stream);
    };
    this.open.add(stream);
    stream.on("close", stop);
    // A client gone while an (async) hook ran has already had its "close".
    if (stream.destroyed) stop();
    return undefined;
  }
}
