import type { FastifyPluginAsync } from "fastify";
import type { Coordinator } from "../../types.js";

/** Prometheus's scrape target, outside /api/v1 like the probes: a scraper knows no API version. */
export const metricsRoutes: FastifyPluginAsync<{ coordinator: Coordinator }> = async (app, { coordinator }) => {
  app.get(
    "/metrics",
    {
      schema: {
        summary: "The coordinator's Prometheus metrics, in the text exposition format",
        tags: ["health"],
        response: {
          200: {
            description: "Prometheus text exposition format 0.0.4",
            content: { "text/plain": { schema: { type: "string" } } },
          },
        },
      },
    },
    async (_request, reply) => reply.type(coordinator.metrics.contentType).send(await coordinator.metrics.metrics()),
  );
};
