import type { FastifyPluginAsync } from "fastify";
import type { Coordinator, JobEvent } from "../../types.js";
import { ErrorBodySchema, JobEventSchema, JobEventsQuery, ListGatewayAccountsQuery, ref } from "../schemas.js";
import { EventStreams } from "../sse-stream.js";

export { SSE_HEARTBEAT_MS } from "../sse-stream.js";

function matches(event: JobEvent, filter: JobEventsQuery): boolean {
  return (
    (filter.component === undefined || event.component === filter.component) &&
    (filter.jobId === undefined || event.jobId === filter.jobId)
  );
}

const TOO_MANY = {
  ...ref(ErrorBodySchema),
  description: "Too many event streams are open (admin.maxEventStreams); retry after `retry-after` seconds",
  headers: { "retry-after": { type: "integer", minimum: 1, description: "Seconds to wait" } },
};

/** The admin API's event streams: job state changes, and the gateway's live tail of inbound messages. */
export const eventRoutes: FastifyPluginAsync<{ coordinator: Coordinator; maxStreams: number }> = async (
  app,
  { coordinator, maxStreams },
) => {
  const streams = new EventStreams(app, maxStreams);

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
          503: TOO_MANY,
        },
      },
    },
    (request, reply) =>
      streams.serve(reply, (send) =>
        coordinator.onJobEvent((event) => {
          if (matches(event, request.query)) send("job", event);
        }),
      ),
  );

  app.get<{ Querystring: ListGatewayAccountsQuery }>(
    "/gateway/tail",
    {
      schema: {
        summary:
          "The gateway's inbound messages as they are stored, as server-sent events (`event: message`, `data`: a Message), by tenant and channel type",
        tags: ["gateway"],
        querystring: ListGatewayAccountsQuery,
        response: {
          200: {
            description: "An endless stream; each `data` is a Message (docs/gateway-contract.md)",
            content: { "text/event-stream": { schema: { type: "object" } } },
          },
          503: TOO_MANY,
        },
      },
    },
    (request, reply) => {
      const feed = coordinator.gateway.feed;
      const { tenant, channelType } = request.query;
      return streams.serve(
        reply,
        (send) =>
          feed?.onMessage((message) => {
            if (
              (tenant === undefined || message.scope.tenant === tenant) &&
              (channelType === undefined || message.channel_type === channelType)
            )
              send("message", message);
          }) ?? (() => undefined),
      );
    },
  );
};
