import swagger from "@fastify/swagger";
import type { FastifyInstance } from "fastify";

/**
 * Collects every route registered after it into an OpenAPI 3.1 document served at `GET /openapi.json`.
 * Named schemas keep their `$id` as their component name, so generated clients get `JobRecord`, not `def-2`.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Tessera coordinator admin API",
        version: "1",
        description:
          "Jobs, components, dead letters and settings of a Tessera coordinator. Errors share one body: see the Error schema.",
      },
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json["$id"] === "string" ? json["$id"] : `def-${i}`,
    },
  });
  app.get("/openapi.json", { schema: { summary: "This API's OpenAPI document", tags: ["meta"] } }, () => app.swagger());
}
