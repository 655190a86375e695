/**
 * The unit tier's setup file. Most of its files share a worker's modules (vitest.config.ts), so what one file
 * sets globally must not reach the next: fake timers are put back after each file. An OpenTelemetry SDK cannot
 * be put back (the packages keep the tracers they took from it, and a reset leaves those tracers dead), so a
 * file that leaves one registered fails here, naming the fix, instead of changing what later files see.
 */
import { trace } from "@opentelemetry/api";
import { afterAll, vi } from "vitest";

/** Where @opentelemetry/api 1.x keeps what was registered globally. */
const OTEL_GLOBALS = Symbol.for("opentelemetry.js.api.1");

afterAll(() => {
  vi.useRealTimers();
  const registered = (globalThis as Record<symbol, Record<string, unknown> | undefined>)[OTEL_GLOBALS];
  if (registered?.["trace"] !== undefined && process.env["TESSERA_TEST_ISOLATED"] !== "1") {
    trace.disable();
    throw new Error(
      "this file registered an OpenTelemetry SDK in a worker other files share: add it to REGISTERS_TRACING in vitest.config.ts",
    );
  }
});
