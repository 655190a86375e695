import swagger from "@fastify/swagger";
import type { FastifyInstance, FastifySchema } from "fastify";
import { ADMIN_BODY_LIMIT_BYTES, ErrorBodySchema, ref } from "./schemas.js";

/** The security scheme of the routes flagged `config.mutating` (access-guard.ts). */
const ADMIN_TOKEN_SCHEME = "adminToken";

/** An error response with the one error body, described for this status. */
function errorResponse(description: string): unknown {
  return { ...ref(ErrorBodySchema), description };
}

/**
 * The answers any route may give besides its own, each declared here once, next to the reason, and added to
 * every route's schema as the route is registered: the OpenAPI document then lists every status a client can
 * get (the fuzzer in CI checks that), and the serializer knows their shape. A route declares only its own
 * (404, 409, a 503 of its own) with `withErrors` (schemas.ts); its declaration wins over these.
 */
function sharedResponses(schema: FastifySchema, mutating: boolean): Record<string, unknown> {
  return {
    // request-text.ts checks every path, query and body for NUL and lone surrogates, with or without a schema.
    400: errorResponse("The request is malformed; `issues` names each bad field"),
    ...(mutating
      ? {
          401: errorResponse("An admin token is configured and the request did not carry it, or not that one"),
          403: errorResponse(
            "A Host header this server does not answer to (DNS rebinding), a change requested from another origin, or a read-only server (not on loopback, no admin token configured)",
          ),
        }
      : {
          403: errorResponse("A Host header this server does not answer to (DNS rebinding)"),
        }),
    ...(schema.body !== undefined
      ? {
          413: errorResponse(
            `The body is larger than the admin API's limit (${ADMIN_BODY_LIMIT_BYTES / 1024 ** 2} MiB)`,
          ),
          // Fastify parses JSON and text/plain bodies (the latter then fails the body's schema: a 400).
          415: errorResponse("The body is of a media type the API does not parse (send application/json)"),
        }
      : {}),
    "5XX": errorResponse("The coordinator failed (500), or its store is unavailable (503: retry)"),
  };
}

/**
 * Links from the answers that name a job or a component to the operations that take it: a generated client
 * can follow them, and the fuzzer's stateful phase chains a submit to a read and a cancel, a listed job to its
 * output, a component to its dead letters' redrive.
 */
function links(): Record<string, Record<string, Record<string, unknown>>> {
  const op = (path: string, method: string) => `#/paths/${path.replaceAll("/", "~1")}/${method}`;
  const job = (pointer: string) => ({
    GetJob: { operationRef: op("/api/v1/jobs/{jobId}", "get"), parameters: { jobId: `$response.body#${pointer}` } },
    CancelJob: {
      operationRef: op("/api/v1/jobs/{jobId}/cancel", "post"),
      parameters: { jobId: `$response.body#${pointer}` },
    },
  });
  // Not from a submit: a job has no output until it is decided (404 until then), so the link would promise
  // a resource that a just-created job does not have yet.
  const result = (pointer: string) => ({
    GetJobResult: {
      operationRef: op("/api/v1/jobs/{jobId}/result", "get"),
      parameters: { jobId: `$response.body#${pointer}` },
    },
  });
  const submit = job("/jobId");
  return {
    "/api/v1/jobs post 201": submit,
    "/api/v1/jobs post 200": submit,
    "/api/v1/jobs get 200": { ...job("/items/0/jobId"), ...result("/items/0/jobId") },
    "/api/v1/dlq get 200": {
      RedriveJob: {
        operationRef: op("/api/v1/dlq/{jobId}/redrive", "post"),
        parameters: { jobId: "$response.body#/items/0/jobId" },
      },
    },
    "/api/v1/components get 200": {
      GetComponent: {
        operationRef: op("/api/v1/components/{name}", "get"),
        parameters: { name: "$response.body#/items/0/name" },
      },
      RedriveComponent: {
        operationRef: op("/api/v1/dlq/redrive", "post"),
        requestBody: { component: "$response.body#/items/0/name" },
      },
    },
    "/api/v1/settings get 200": {
      PutSetting: {
        operationRef: op("/api/v1/settings/{name}", "put"),
        parameters: { name: "$response.body#/items/0/name" },
      },
    },
  };
}

interface OpenApiDocument {
  paths?: Record<string, Record<string, { responses?: Record<string, { links?: unknown }> }>>;
}

function addLinks(document: OpenApiDocument): OpenApiDocument {
  for (const [at, responseLinks] of Object.entries(links())) {
    const [path = "", method = "", status = ""] = at.split(" ");
    const response = document.paths?.[path]?.[method]?.responses?.[status];
    // A renamed route must not leave its links pointing nowhere unnoticed (openapi.test.ts reads them).
    if (response === undefined) throw new Error(`OpenAPI links: no response ${at}`);
    response.links = responseLinks;
  }
  return document;
}

/**
 * Collects every route registered after it into an OpenAPI 3.1 document served at `GET /openapi.json`.
 * Named schemas keep their `$id` as their component name, so generated clients get `JobRecord`, not `def-2`.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  app.addHook("onRoute", (route) => {
    const schema = route.schema ?? {};
    if ((schema as { hide?: boolean }).hide === true) return;
    const mutating = route.config?.mutating === true;
    route.schema = {
      ...schema,
      response: { ...sharedResponses(schema, mutating), ...(schema.response as Record<string, unknown> | undefined) },
      ...(mutating ? { security: [{ [ADMIN_TOKEN_SCHEME]: [] }] } : {}),
    };
  });
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Tessera coordinator admin API",
        version: "1",
        description:
          "Jobs, components, dead letters and settings of a Tessera coordinator. Errors share one body: see the Error schema.",
      },
      components: {
        securitySchemes: {
          [ADMIN_TOKEN_SCHEME]: {
            type: "http",
            scheme: "bearer",
            description:
              "The coordinator's admin token (TESSERA_ADMIN_TOKEN). Changes need it whenever one is configured; a coordinator on loopback without one takes changes without it, and one beyond loopback without one is read-only.",
          },
        },
      },
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json["$id"] === "string" ? json["$id"] : `def-${i}`,
    },
    // This server documents itself as OpenAPI 3.1 only (the `openapi` option above), never as Swagger 2.
    transformObject: (document) => addLinks((document as { openapiObject: OpenApiDocument }).openapiObject) as never,
  });
  app.get(
    "/openapi.json",
    {
      schema: {
        summary: "This API's OpenAPI document",
        tags: ["meta"],
        // additionalProperties: the serializer would otherwise drop every field of the document.
        response: { 200: { description: "An OpenAPI 3.1 document", type: "object", additionalProperties: true } },
      },
    },
    () => app.swagger(),
  );
}
