import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { ComponentDefaults, durableConsumerName, jobStreamName } from "@tessera/contract";
import { describe, expect, it } from "vitest";
import { RenderError } from "../../src/render/errors.js";
import { assertMonitoringEndpoint, renderScaledObject } from "../../src/render/scaled-object.js";
import { ctx, keyPaths, spec } from "./fixtures.js";

const ref = { name: "extract", namespace: "docs", uid: "uid-1" };
const render = (s = spec(), c = ctx) => renderScaledObject(ref, s, c);
const trigger = (s = spec()) => {
  const t = render(s).spec.triggers[0];
  if (t === undefined) throw new Error("no trigger");
  return t;
};

describe("renderScaledObject", () => {
  it("validates against the KEDA schema", () => {
    expect(() => new ScaledObject(render()).validate()).not.toThrow();
    expect(() =>
      new ScaledObject(
        render(spec({ scaling: { minReplicas: 1, maxReplicas: 3, queueDepthTarget: 7, cooldownPeriod: "1m" } })),
      ).validate(),
    ).not.toThrow();
  });

  it("targets the component's Deployment by name", () => {
    const so = render();
    expect(so.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: "extract" });
    expect(so.metadata).toMatchObject({
      name: "extract",
      namespace: "docs",
      labels: { "tessera.dev/component": "extract" },
    });
    expect(so.metadata.ownerReferences?.[0]?.uid).toBe("uid-1");
  });

  it("reads the stream and consumer the controller provisions", () => {
    const meta = trigger().metadata as Record<string, unknown>;
    expect(trigger().type).toBe("nats-jetstream");
    expect(meta["stream"]).toBe(jobStreamName("extract"));
    expect(meta["consumer"]).toBe(durableConsumerName("extract"));
    const odd = renderScaledObject({ name: "a-b", namespace: "x" }, spec(), ctx).spec.triggers[0]?.metadata as Record<
      string,
      unknown
    >;
    expect(odd["consumer"]).toBe(durableConsumerName("a-b"));
  });

  it("writes every metadata value as a string", () => {
    const meta = trigger(spec({ scaling: { queueDepthTarget: 25 } })).metadata as Record<string, unknown>;
    expect(meta).toEqual({
      natsServerMonitoringEndpoint: "nats.nats.svc:8222",
      account: "$G",
      stream: "TESSERA_JOBS_extract",
      consumer: "tessera-worker-extract",
      lagThreshold: "25",
      activationLagThreshold: "0",
      useHttps: "false",
    });
    for (const v of Object.values(meta)) expect(typeof v).toBe("string");
  });

  it("takes min/max/lag from the spec, else the contract defaults", () => {
    const d = render().spec;
    expect(d.minReplicaCount).toBe(ComponentDefaults.minReplicas);
    expect(d.maxReplicaCount).toBe(ComponentDefaults.maxReplicas);
    expect(d.cooldownPeriod).toBeUndefined();
    expect(d.pollingInterval).toBeUndefined();
    expect((trigger().metadata as Record<string, string>)["lagThreshold"]).toBe(
      String(ComponentDefaults.queueDepthTarget),
    );
    const s = render(spec({ scaling: { minReplicas: 1, maxReplicas: 3, cooldownPeriod: "2m30s" } })).spec;
    expect([s.minReplicaCount, s.maxReplicaCount, s.cooldownPeriod]).toEqual([1, 3, 150]);
    // KEDA's periods are whole seconds: a fraction rounds up, and nothing goes below 1 s.
    expect(render(spec({ scaling: { pollingInterval: "2500ms" } })).spec.pollingInterval).toBe(3);
    expect(render(spec({ scaling: { pollingInterval: "10ms" } })).spec.pollingInterval).toBe(1);
    expect(() => render(spec({ scaling: { minReplicas: 5, maxReplicas: 3 } }))).toThrow(RenderError);
  });

  it("never contains replicas other than KEDA's own min/max counts", () => {
    expect(keyPaths(render()).filter((p) => /(^|\.)replicas$/i.test(p))).toEqual([]);
  });

  it("rejects a monitoring endpoint with a scheme or without a port", () => {
    expect(assertMonitoringEndpoint("nats.nats.svc:8222")).toBe("nats.nats.svc:8222");
    expect(assertMonitoringEndpoint("10.0.0.5:8222")).toBe("10.0.0.5:8222");
    expect(() => assertMonitoringEndpoint("http://nats.nats.svc:8222")).toThrow(/no scheme.*"nats\.nats\.svc:8222"/);
    expect(() => assertMonitoringEndpoint("https://nats:8222/")).toThrow(RenderError);
    expect(() => assertMonitoringEndpoint("nats.nats.svc")).toThrow(/host:port/);
    expect(() => assertMonitoringEndpoint("nats:8222/jsz")).toThrow(RenderError);
    expect(() => assertMonitoringEndpoint("nats:99999")).toThrow(RenderError);
    expect(() => render(spec(), { ...ctx, nats: { ...ctx.nats, monitoringEndpoint: "http://nats:8222" } })).toThrow(
      RenderError,
    );
  });
});
