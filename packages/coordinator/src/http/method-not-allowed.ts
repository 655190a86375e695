import type { FastifyInstance } from "fastify";
import { clipText } from "../clip-text.js";
import { ApiError } from "./api-error.js";

/** A registered route's path as a regular expression over request paths (`:jobId` → one segment, `*` → the rest). */
function pathPattern(url: string): RegExp {
  const segments = url.split("/").map((segment) => {
    if (segment.startsWith(":")) return "[^/]+";
    if (segment === "*") return ".*";
    return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  });
  return new RegExp(`^${segments.join("/")}$`);
}

/**
 * Answers a request for a path the API serves, with a method it does not serve there, 405 with an `Allow`
 * header (RFC 9110 §15.5.6) instead of the router's 404, which would say the path does not exist. Checked
 * when the request arrives (onRequest), before its body is parsed: a body a route would refuse (a QUERY
 * without a content type) must not turn the answer into a 400. Paths nothing serves keep the 404.
 */
export function installMethodNotAllowed(app: FastifyInstance): void {
  const routes = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  app.addHook("onRoute", (route) => {
    const entry = routes.get(route.url) ?? { pattern: pathPattern(route.url), methods: new Set<string>() };
    for (const method of [route.method].flat()) entry.methods.add(method);
    routes.set(route.url, entry);
  });
  app.addHook("onRequest", async (request, reply) => {
    if (!request.is404) return;
    const path = request.url.split("?")[0] ?? "";
    const allowed = new Set<string>();
    for (const { pattern, methods } of routes.values()) if (pattern.test(path)) for (const m of methods) allowed.add(m);
    if (allowed.size === 0) return;
    const allow = [...allowed].sort().join(", ");
    const refusal = new ApiError(
      405,
      "invalid_request",
      `${request.method} is not served at ${clipText(path, 200)}; it takes ${allow} (the routes are listed at GET /openapi.json)`,
    );
    return reply.code(405).header("allow", allow).send(refusal.toBody());
  });
}
