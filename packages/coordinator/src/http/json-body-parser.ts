import type { FastifyInstance } from "fastify";

/**
 * Fastify's JSON parser (prototype-poisoning protection included), except that an empty body is no body:
 * clients that always send `content-type: application/json` can then POST to cancel and redrive, which
 * take none. A route that needs a body still refuses the missing one through its schema, naming it.
 */
export function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if (body.length === 0) done(null, undefined);
    else parseJson(request, body.toString(), done);
  });
}
