import type { FastifyPluginAsync } from "fastify";
import type { ComponentStatus, Coordinator } from "../../types.js";
import { notFound } from "../api-error.js";
import { ComponentStatusSchema, NameParams, componentListResponse, ref, withErrors } from "../schemas.js";

export const componentRoutes: FastifyPluginAsync<{ coordinator: Coordinator }> = async (app, { coordinator }) => {
  app.get<{ Reply: { items: ComponentStatus[] } }>(
    "/components",
    {
      schema: {
        summary: "Registered components with their instances, queue depth and jobs by state",
        tags: ["components"],
        response: { 200: componentListResponse() },
      },
    },
    async () => ({ items: await coordinator.components() }),
  );

  app.get<{ Params: NameParams; Reply: ComponentStatus }>(
    "/components/:name",
    {
      schema: {
        summary: "One component",
        tags: ["components"],
        params: NameParams,
        response: withErrors({ 200: ref(ComponentStatusSchema) }, 404),
      },
    },
    async (request) => {
      const status = await coordinator.component(request.params.name);
      if (status === undefined) throw notFound(`no component named "${request.params.name}"`);
      return status;
    },
  );
};
