import { Type } from "@sinclair/typebox";
import { buildInfo } from "@tessera/contract";
import type { FastifyPluginAsync } from "fastify";
import type { Coordinator } from "../../types.js";
import { CoordinatorHealthSchema, ref } from "../schemas.js";

/** Probes, outside /api/v1 so a platform can use them without knowing the API version. */
export const healthRoutes: FastifyPluginAsync<{ coordinator: Coordinator }> = async (app, { coordinator }) => {
  // The same source as tessera_build_info (coordinator-metrics.ts): one answer to "which build is this".
  const build = buildInfo(process.env);
  app.get(
    "/healthz",
    {
      schema: {
        summary: "Liveness: the process answers, with the build it runs",
        tags: ["health"],
        response: {
          200: Type.Object({
            live: Type.Literal(true),
            version: Type.String({ description: "TESSERA_VERSION of the image (dev when unset)" }),
            commit: Type.String({ description: "TESSERA_COMMIT of the image (unknown when unset)" }),
          }),
        },
      },
    },
    () => ({ live: true as const, ...build }),
  );

  app.get(
    "/readyz",
    {
      schema: {
        summary: "Readiness: store, bus and consumers are up (503 with the same body when not)",
        tags: ["health"],
        response: { 200: ref(CoordinatorHealthSchema), 503: ref(CoordinatorHealthSchema) },
      },
    },
    async (_request, reply) => {
      const health = await coordinator.health();
      return reply.code(health.ready ? 200 : 503).send(health);
    },
  );
};
