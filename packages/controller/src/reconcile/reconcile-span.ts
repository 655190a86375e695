import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { ReconcileOutcome } from "../metrics/controller-metrics.js";

/** A reconcile's outcome as the metrics count it, or "not_leader" (the lease was lost mid-pass, not counted). */
type SpanOutcome = ReconcileOutcome | "not_leader";

/** The span of one reconcile, and its attributes (the Component's namespace and name, the outcome). */
export const ReconcileTrace = {
  span: "reconcile Component",
  namespace: "k8s.namespace.name",
  component: "tessera.component",
  outcome: "tessera.reconcile.outcome",
} as const;

/**
 * Runs one reconcile of `namespace/name` in a span (an internal one: nothing called the controller). With no
 * OpenTelemetry SDK registered (no `OTEL_*` set), the API's no-op tracer makes this a pass-through.
 */
export function inReconcileSpan<T>(
  namespace: string,
  name: string,
  run: (outcome: (o: SpanOutcome) => void) => Promise<T>,
): Promise<T> {
  return trace.getTracer("@tessera/controller").startActiveSpan(
    ReconcileTrace.span,
    {
      kind: SpanKind.INTERNAL,
      attributes: { [ReconcileTrace.namespace]: namespace, [ReconcileTrace.component]: name },
    },
    async (span) => {
      const outcome = (o: SpanOutcome): void => {
        span.setAttribute(ReconcileTrace.outcome, o);
        if (o === "error") span.setStatus({ code: SpanStatusCode.ERROR });
      };
      try {
        return await run(outcome);
      } catch (err) {
        span.recordException(err instanceof Error ? err : String(err));
        span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}
