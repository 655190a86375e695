import {
  endWithError,
  extractTrace,
  HttpAttr,
  startServerSpan,
  traceHeadersFrom,
  withSpan,
  SpanStatusCode,
  type Span,
  type TraceContext,
} from "@tessera/bus";
import type { FastifyInstance, FastifyRequest } from "fastify";

/**
 * An HTTP server span for every admin API request (OpenTelemetry's HTTP conventions: `{method} {route}`),
 * in the context the request's `traceparent` carries. The route's handler runs in it, so a submit's `create`
 * span is its child and log lines written while it runs carry its ids. The context is entered again just
 * before the handler (preHandler): the body is read on socket events, which run outside it.
 */
export function installTracing(app: FastifyInstance): void {
  const spans = new WeakMap<FastifyRequest, { span: Span; ctx: TraceContext }>();
  app.addHook("onRequest", (request, _reply, done) => {
    const parent = extractTrace(traceHeadersFrom((name) => single(request.headers[name])));
    const route = request.routeOptions.url;
    const span = startServerSpan(route === undefined ? request.method : `${request.method} ${route}`, parent, {});
    if (span.isRecording()) {
      const query = request.url.indexOf("?");
      span.setAttributes({
        [HttpAttr.method]: request.method,
        [HttpAttr.path]: query === -1 ? request.url : request.url.slice(0, query),
        [HttpAttr.scheme]: request.protocol,
        ...(route !== undefined ? { [HttpAttr.route]: route } : {}),
        ...(request.ip !== undefined ? { [HttpAttr.clientAddress]: request.ip } : {}),
        ...(request.headers["user-agent"] !== undefined ? { [HttpAttr.userAgent]: request.headers["user-agent"] } : {}),
      });
    }
    spans.set(request, { span, ctx: parent });
    withSpan(span, done, parent);
  });
  app.addHook("preHandler", (request, _reply, done) => {
    const traced = spans.get(request);
    if (traced === undefined) return done();
    withSpan(traced.span, done, traced.ctx);
  });
  app.addHook("onResponse", (request, reply, done) => {
    const traced = spans.get(request);
    if (traced !== undefined) {
      spans.delete(request);
      traced.span.setAttribute(HttpAttr.statusCode, reply.statusCode);
      // Server spans are errors on 5xx only: a 4xx is the client's mistake, answered as meant.
      if (reply.statusCode >= 500) traced.span.setStatus({ code: SpanStatusCode.ERROR });
      traced.span.end();
    }
    done();
  });
  app.addHook("onRequestAbort", (request, done) => {
    const traced = spans.get(request);
    if (traced !== undefined) {
      spans.delete(request);
      endWithError(traced.span, new Error("the client closed the connection before the answer"));
    }
    done();
  });
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
