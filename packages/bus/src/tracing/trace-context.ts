import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
} from "@opentelemetry/api";
import { TRACER_NAME, type MessagingSpanName } from "./trace-names.js";

/**
 * Trace context on the bus, through the OpenTelemetry API only: without an SDK registered (no `OTEL_*`
 * variables, see start-tracing.ts) every call here is the API's no-op, so an untraced process pays for a few
 * function calls per message and no allocation of consequence (the bench measures it: docs/performance.md).
 */

/** Message headers that carry trace context (`traceparent`, `tracestate`, as the global propagator writes them). */
export type TraceCarrier = Readonly<Record<string, string>>;

const tracer = trace.getTracer(TRACER_NAME);

export { SpanKind, SpanStatusCode, type Context, type Span };

/** The context of the code running now (the admin API request, a worker's delivery, …). */
export function activeContext(): Context {
  return context.active();
}

/** Runs `fn` with `span` as the active span (in `parent`'s context); a span with no valid context has nothing to carry. */
export function withSpan<T>(span: Span, fn: () => T, parent: Context = context.active()): T {
  if (!trace.isSpanContextValid(span.spanContext())) return fn();
  return context.with(trace.setSpan(parent, span), fn);
}

/** Runs `fn` in `ctx` (work that arrives later for a span started earlier: a handler thread's messages). */
export function withContext<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}

/** The headers to publish with a message: the active context, as the registered propagator writes it. */
export function injectTrace(ctx: Context = context.active()): TraceCarrier | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  for (const _ in carrier) return carrier;
  return undefined;
}

/** The context a message's headers carry (ROOT when none, or when no propagator is registered). */
export function extractTrace(carrier: TraceCarrier | undefined): Context {
  if (carrier === undefined) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/**
 * Reads the trace headers of a message: only the fields the registered propagator uses (none without an
 * SDK, so nothing is read or allocated), from any header map with a `get`.
 */
export function traceHeadersFrom(get: (name: string) => string | undefined): TraceCarrier | undefined {
  let carrier: Record<string, string> | undefined;
  for (const field of propagation.fields()) {
    const value = get(field);
    if (value !== undefined && value !== "") (carrier ??= {})[field] = value;
  }
  return carrier;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A W3C traceparent (the envelope's `traceparent`) as a span context; undefined when absent or invalid. */
export function parseTraceparent(traceparent: string | undefined): SpanContext | undefined {
  if (traceparent === undefined) return undefined;
  const m = TRACEPARENT.exec(traceparent);
  if (m === null || m[1] === "ff") return undefined;
  const sc: SpanContext = {
    traceId: m[2] as string,
    spanId: m[3] as string,
    traceFlags: parseInt(m[4] as string, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  return trace.isSpanContextValid(sc) ? sc : undefined;
}

/** A span context as a W3C traceparent. */
export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/** The context whose parent is the span a traceparent names (ROOT when it names none). */
export function contextFromTraceparent(traceparent: string | undefined): Context {
  const sc = parseTraceparent(traceparent);
  return sc === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, sc);
}

/** Whether a context holds a valid span context to parent on. */
export function hasSpan(ctx: Context): boolean {
  const sc = trace.getSpanContext(ctx);
  return sc !== undefined && trace.isSpanContextValid(sc);
}

/** Whether the context's span records (an SDK is set up and sampled it): only then are child spans worth making. */
export function isRecording(ctx: Context): boolean {
  return trace.getSpan(ctx)?.isRecording() === true;
}

/** Sets attributes on the active span, if it records. */
export function setActiveAttributes(attributes: Attributes): void {
  const span = trace.getSpan(context.active());
  if (span?.isRecording() === true) span.setAttributes(attributes);
}

/** Marks the active span failed (ERROR status with a message), if it records. */
export function setActiveError(message: string): void {
  const span = trace.getSpan(context.active());
  if (span?.isRecording() === true) span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** Starts a messaging span (see trace-names.ts) in `parent`, with extra attributes and links. */
export function startMessagingSpan(
  kind: SpanKind,
  span: MessagingSpanName,
  parent: Context,
  extra?: Attributes,
  links?: Link[],
): Span {
  return tracer.startSpan(
    span.name,
    {
      kind,
      attributes: extra === undefined ? span.attributes : { ...span.attributes, ...extra },
      ...(links !== undefined && links.length > 0 ? { links } : {}),
    },
    parent,
  );
}

/** Starts an HTTP server span (the admin API), in the context the request's headers carry. */
export function startServerSpan(name: string, parent: Context, attributes: Attributes): Span {
  return tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
}

/** Ends a span with an error status (and the exception recorded), as every hop does on failure. */
export function endWithError(span: Span, err: unknown, scrub: (text: string) => string = (text) => text): void {
  if (span.isRecording()) {
    const message = scrub(err instanceof Error ? err.message : String(err));
    if (err instanceof Error) {
      const code = (err as { code?: unknown }).code;
      span.recordException({
        name: err.name,
        message,
        ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
        ...(err.stack !== undefined ? { stack: scrub(err.stack) } : {}),
      });
    }
    span.setStatus({ code: SpanStatusCode.ERROR, message });
  }
  span.end();
}

/**
 * A pino `mixin`: `trace_id` and `span_id` of the active span on every log line written inside one (nothing
 * outside a span, and nothing without an SDK). Child loggers inherit it.
 */
export function traceLogFields(): Record<string, string> {
  const span = trace.getSpan(context.active());
  if (span === undefined) return {};
  const sc = span.spanContext();
  if (!trace.isSpanContextValid(sc)) return {};
  return { trace_id: sc.traceId, span_id: sc.spanId };
}
