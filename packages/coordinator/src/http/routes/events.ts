import type { ServerResponse } from "node:http";
import type { FastifyPluginAsync } from "fastify";
import type { Coordinator, JobEvent } from "../../types.js";
import { ApiError } from "../api-error.js";
import { ErrorBodySchema, JobEventSchema, JobEventsQuery, ref } from "../schemas.js";

/** Proxies and load balancers drop connections idle for ~30-60 s; a comment line keeps the stream alive. */
export const SSE_HEARTBEAT_MS = 15_000;

// A client that stops reading would make the coordinator buffer every event for it; it is cut off instead.
const MAX_BUFFERED_BYTES = 1024 * 1024;

function matches(event: JobEvent, filter: JobEventsQuery): boolean {
  return (
    (filter.component === undefined || event.component === filter.component) &&
    (filter.jobId === undefined || event.jobId === filter.jobId)
  );
}

/** How long a client refused for too many open streams is asked to wait before it tries again. */
const RETRY_AFTER_SECONDS = 5;

export const eventRoutes: FastifyPluginAsync<{ coordinator: Coordinator; maxStreams: number }> = async (
  app,
  { coordinator, maxStreams },
) => {
  const streams = new Set<ServerResponse>();
  // Streams never end by themselves; without this, close() would wait for every client to hang up.
  app.addHook("preClose", async () => {
    for (const stream of streams) stream.end();
  });

  app.get<{ Querystring: JobEventsQuery }>(
    "/events",
    {
      schema: {
        summary:
          "Job state changes as server-sent events (`event: job`, `data`: a JobEvent), with a comment heartbeat every 15 s",
        tags: ["jobs"],
        querystring: JobEventsQuery,
        response: {
          200: {
            description: "An endless stream; each `data` is a JobEvent",
            content: { "text/event-stream": { schema: ref(JobEventSchema) } },
          },
          503: {
            ...ref(ErrorBodySchema),
            description: "Too many event streams are open (admin.maxEventStreams); retry after `retry-after` seconds",
            headers: { "retry-after": { type: "integer", minimum: 1, description: "Seconds to wait" } },
          },
        },
      },
    },
    (request, reply) => {
      // Each stream holds a socket, a subscription and a timer for as long as the client likes.
      if (streams.size >= maxStreams) {
        const refusal = new ApiError(
          503,
          "unavailable",
          `too many event streams are open (${maxStreams}, the admin.maxEventStreams limit); retry in ${RETRY_AFTER_SECONDS} s`,
        );
        return reply.code(503).header("retry-after", String(RETRY_AFTER_SECONDS)).send(refusal.toBody());
      }
      const filter = request.query;
      reply.hijack();
      const stream = reply.raw;
      stream.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      });
      // Flushes the headers at once, so the client knows it is subscribed before the first event.
      stream.write(": subscribed\n\n");
      const send = (chunk: string): void => {
        if (stream.writableLength > MAX_BUFFERED_BYTES) stream.destroy();
        else stream.write(chunk);
      };
      const unsubscribe = coordinator.onJobEvent((event) => {
        if (matches(event, filter)) send(`event: job\ndata: ${JSON.stringify(event)}\n\n`);
      });
      const heartbeat = setInterval(() => send(": heartbeat\n\n"), SSE_HEARTBEAT_MS);
      const stop = (): void => {
        clearInterval(heartbeat);
        unsubscribe();
        streams.delete(stream);
      };
      streams.add(stream);
      stream.on("close", stop);
      // A client gone while an (async) hook ran has already had its "close".
      if (stream.destroyed) stop();
    },
  );
};
