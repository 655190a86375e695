import type { FastifyPluginAsync } from "fastify";
import type { Coordinator, CoordinatorCounters } from "../../types.js";
import { CoordinatorCountersSchema, ref } from "../schemas.js";

export const counterRoutes: FastifyPluginAsync<{ coordinator: Coordinator }> = async (app, { coordinator }) => {
  app.get<{ Reply: CoordinatorCounters }>(
    "/counters",
    {
      schema: {
        summary: "Counts since this coordinator process started",
        tags: ["counters"],
        response: { 200: ref(CoordinatorCountersSchema) },
      },
    },
    () => coordinator.counters(),
  );
};
