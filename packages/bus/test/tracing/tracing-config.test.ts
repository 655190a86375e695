import { describe, expect, it } from "vitest";
import { startTracing, tracingConfig, TracingConfigError } from "../../src/index.js";

describe("tracingConfig: what the OTEL_* variables ask for", () => {
  it("is off with nothing set, and says why", () => {
    expect(tracingConfig({})).toEqual({ enabled: false, why: expect.stringContaining("OTEL_EXPORTER_OTLP_ENDPOINT") });
  });

  it("is on with an endpoint, over OTLP/HTTP protobuf by default (the specification's default)", () => {
    for (const variable of ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"])
      expect(tracingConfig({ [variable]: "http://127.0.0.1:4318" })).toEqual({
        enabled: true,
        exporters: ["otlp-http-protobuf"],
        serviceName: undefined,
      });
  });

  it("takes the protocol from the traces variable first, then the general one", () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" };
    expect(tracingConfig({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })).toMatchObject({
      exporters: ["otlp-http-json"],
    });
    expect(
      tracingConfig({
        ...endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf",
      }),
    ).toMatchObject({ exporters: ["otlp-http-protobuf"] });
  });

  it("refuses OTLP over gRPC and unknown exporters, naming the variable", () => {
    expect(() => tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "x", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toThrow(
      /^OTEL_EXPORTER_OTLP_PROTOCOL=grpc: Tessera exports OTLP over HTTP only/,
    );
    expect(() => tracingConfig({ OTEL_TRACES_EXPORTER: "zipkin" })).toThrow(TracingConfigError);
    expect(() => tracingConfig({ OTEL_TRACES_EXPORTER: "zipkin" })).toThrow(/^OTEL_TRACES_EXPORTER=zipkin/);
  });

  it("turns on with OTEL_TRACES_EXPORTER alone (console, or otlp to the default endpoint)", () => {
    expect(tracingConfig({ OTEL_TRACES_EXPORTER: "console" })).toMatchObject({ enabled: true, exporters: ["console"] });
    expect(tracingConfig({ OTEL_TRACES_EXPORTER: "otlp, console" })).toMatchObject({
      exporters: ["otlp-http-protobuf", "console"],
    });
  });

  it("is off when the SDK is disabled or the exporter is none, whatever else is set", () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" };
    expect(tracingConfig({ ...endpoint, OTEL_SDK_DISABLED: "true" })).toMatchObject({ enabled: false });
    expect(tracingConfig({ ...endpoint, OTEL_SDK_DISABLED: "TRUE" })).toMatchObject({ enabled: false });
    expect(tracingConfig({ ...endpoint, OTEL_TRACES_EXPORTER: "none" })).toMatchObject({ enabled: false });
    expect(tracingConfig({ ...endpoint, OTEL_SDK_DISABLED: "false" })).toMatchObject({ enabled: true });
  });

  it("passes OTEL_SERVICE_NAME on", () => {
    expect(tracingConfig({ OTEL_TRACES_EXPORTER: "console", OTEL_SERVICE_NAME: " billing " })).toMatchObject({
      serviceName: "billing",
    });
  });

  it("startTracing sets up nothing when nothing asks for it", async () => {
    expect(await startTracing({ serviceName: "x", env: {} })).toBeUndefined();
  });
});
