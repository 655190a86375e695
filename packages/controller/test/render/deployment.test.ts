import { Deployment } from "kubernetes-models/apps/v1";
import type { IEnvVar } from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { RenderError } from "../../src/render/errors.js";
import { WORKER_DEFAULT_DRAIN_GRACE_MS, renderDeployment, renderEnv, upperSnake } from "../../src/render/deployment.js";
import { workloadConfig } from "../../src/render/config-map.js";
import { componentLabels, selectorLabels } from "../../src/render/labels.js";
import { ctx, keyPaths, spec } from "./fixtures.js";

const ref = { name: "extract", namespace: "docs", uid: "uid-1" };
const render = (s = spec()) => renderDeployment(ref, s, ctx, workloadConfig("extract", s.config));
const envFor = (s: ReturnType<typeof spec>) => renderEnv("extract", s, ctx, workloadConfig("extract", s.config));
const pod = (s = spec()) => render(s).spec?.template.spec;
const container = (s = spec()) => {
  const c = pod(s)?.containers[0];
  if (c === undefined) throw new Error("no container");
  return c;
};
const envOf = (s = spec()): IEnvVar[] => container(s).env ?? [];
const envMap = (s = spec()) => new Map(envOf(s).map((e) => [e.name, e]));

const full = spec({
  config: { ZETA: "z", ALPHA: "a", "log.level": "debug" },
  secretRefs: [
    { name: "openai", key: "api-key" },
    { name: "db-password" },
    { name: "s3", key: "secret", env: "AWS_SECRET_ACCESS_KEY" },
  ],
  resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "512Mi" } },
  scratchVolume: { mountPath: "/scratch", sizeLimit: "256Mi" },
  timeouts: { wallClock: "5m" },
});

describe("renderDeployment", () => {
  it("validates against the Kubernetes apps/v1 schema", () => {
    expect(() => new Deployment(render()).validate()).not.toThrow();
    expect(() => new Deployment(render(full)).validate()).not.toThrow();
  });

  it("is checked by a schema that does reject a broken Deployment (the validation above is live)", () => {
    const broken = structuredClone(render()) as unknown as { spec: { template: { spec: { containers: unknown } } } };
    broken.spec.template.spec.containers = "worker";
    expect(() => new Deployment(broken as never).validate()).toThrow();
  });

  it("never sets spec.replicas", () => {
    for (const s of [spec(), full, spec({ scaling: { minReplicas: 2, maxReplicas: 5 } })]) {
      expect(render(s).spec).not.toHaveProperty("replicas");
      expect(keyPaths(render(s)).some((p) => p.endsWith("replicas"))).toBe(false);
    }
  });

  it("has the labels, selector and owner", () => {
    const d = render();
    expect(d.metadata).toMatchObject({ name: "extract", namespace: "docs", labels: componentLabels("extract") });
    expect(d.metadata.ownerReferences).toEqual([
      {
        apiVersion: "tessera.dev/v1alpha1",
        kind: "Component",
        name: "extract",
        uid: "uid-1",
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(d.spec?.selector.matchLabels).toEqual(selectorLabels("extract"));
    expect(d.spec?.template.metadata?.labels).toEqual(componentLabels("extract"));
  });

  it("hardens the pod and the container", () => {
    const p = pod(full);
    expect(p?.automountServiceAccountToken).toBe(false);
    expect(p?.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      fsGroup: 65532,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(p?.containers).toHaveLength(1);
    expect(p?.initContainers).toBeUndefined();
    expect(p?.hostNetwork ?? false).toBe(false);
    expect(container(full).securityContext).toEqual({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
  });

  it("has no writable volume without a scratchVolume", () => {
    expect(pod()?.volumes).toBeUndefined();
    expect(container().volumeMounts).toBeUndefined();
  });

  it("mounts the declared scratchVolume as a size-capped emptyDir, and nothing else", () => {
    expect(pod(full)?.volumes).toEqual([{ name: "scratch", emptyDir: { sizeLimit: "256Mi" } }]);
    expect(container(full).volumeMounts).toEqual([{ name: "scratch", mountPath: "/scratch" }]);
    expect(envMap(full).get("TMPDIR")?.value).toBe("/scratch");
    expect(envMap().has("TMPDIR")).toBe(false);
  });

  it("copies resources from the spec", () => {
    expect(container(full).resources).toEqual({
      requests: { cpu: "100m", memory: "128Mi" },
      limits: { cpu: "1", memory: "512Mi" },
    });
    expect(container().resources).toBeUndefined();
  });

  it("sorts env by name", () => {
    for (const s of [spec(), full]) {
      const names = envOf(s).map((e) => e.name);
      expect(names.length).toBeGreaterThan(1);
      for (let i = 1; i < names.length; i++) expect((names[i - 1] as string) < (names[i] as string)).toBe(true);
    }
  });

  it("sets the NATS bootstrap env the worker reads", () => {
    const env = envMap();
    expect(env.get("NATS_URL")).toEqual({ name: "NATS_URL", value: "nats://nats.nats.svc:4222" });
    expect(env.get("TESSERA_MODE")?.value).toBe("kubernetes");
    expect(env.get("TESSERA_HTTP_HOST")?.value).toBe("0.0.0.0");
    expect(env.get("TESSERA_HTTP_PORT")?.value).toBe("8080");
    expect(env.get("TESSERA_INSTANCE_ID")).toEqual({
      name: "TESSERA_INSTANCE_ID",
      valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } },
    });
  });

  it("passes the spec's handlerLimits to the worker, and only those it sets", () => {
    const env = envMap(spec({ handlerLimits: { maxHeapMiB: 384, maxOutputBytes: 1_048_576 } }));
    expect(env.get("TESSERA_HANDLER_MAX_HEAP_MIB")?.value).toBe("384");
    expect(env.get("TESSERA_HANDLER_MAX_OUTPUT_BYTES")?.value).toBe("1048576");
    expect(envMap(spec({ handlerLimits: { maxHeapMiB: 384 } })).has("TESSERA_HANDLER_MAX_OUTPUT_BYTES")).toBe(false);
    expect(envMap().has("TESSERA_HANDLER_MAX_HEAP_MIB")).toBe(false);
    expect(() => envFor(spec({ config: { TESSERA_HANDLER_MAX_HEAP_MIB: "99999" } }))).toThrow(
      /TESSERA_HANDLER_MAX_HEAP_MIB is already reserved for the spec's handlerLimits/,
    );
  });

  it("passes config by reference into its hashed ConfigMap and secrets only as secretKeyRef", () => {
    const env = envMap(full);
    const configMap = workloadConfig("extract", full.config).configMapName;
    expect(configMap).toMatch(/^extract-config-[0-9a-f]{10}$/);
    expect(env.get("ALPHA")?.valueFrom).toEqual({ configMapKeyRef: { name: configMap, key: "ALPHA" } });
    expect(env.get("log.level")?.valueFrom).toEqual({ configMapKeyRef: { name: configMap, key: "log.level" } });
    expect(render(full).spec?.template.metadata?.annotations?.["tessera.dev/config-hash"]).toBe(
      workloadConfig("extract", full.config).hash,
    );
    for (const e of envOf(full)) expect(e.value ?? "").not.toBe("a");
    expect(env.get("API_KEY")).toEqual({
      name: "API_KEY",
      valueFrom: { secretKeyRef: { name: "openai", key: "api-key" } },
    });
    expect(env.get("DB_PASSWORD")).toEqual({
      name: "DB_PASSWORD",
      valueFrom: { secretKeyRef: { name: "db-password", key: "db-password" } },
    });
    expect(env.get("AWS_SECRET_ACCESS_KEY")).toEqual({
      name: "AWS_SECRET_ACCESS_KEY",
      valueFrom: { secretKeyRef: { name: "s3", key: "secret" } },
    });
    for (const e of envOf(full).filter((x) => x.valueFrom?.secretKeyRef !== undefined))
      expect(e).not.toHaveProperty("value");
    expect(container(full).envFrom).toBeUndefined();
  });

  it("rejects env name collisions instead of overriding", () => {
    expect(() => envFor(spec({ config: { NATS_URL: "nats://elsewhere:4222" } }))).toThrow(RenderError);
    expect(() => envFor(spec({ config: { API_KEY: "x" }, secretRefs: [{ name: "a", key: "api-key" }] }))).toThrow(
      /API_KEY is already/,
    );
    expect(() => envFor(spec({ config: { "1BAD": "x" } }))).toThrow(/not a valid environment variable name/);
  });

  it("keeps a TMPDIR from config", () => {
    const env = envMap(
      spec({ config: { TMPDIR: "/scratch/tmp" }, scratchVolume: { mountPath: "/scratch", sizeLimit: "1Gi" } }),
    );
    expect(env.get("TMPDIR")?.valueFrom?.configMapKeyRef?.key).toBe("TMPDIR");
  });

  it("derives upper-snake env names", () => {
    expect(upperSnake("openai-api-key")).toBe("OPENAI_API_KEY");
    expect(upperSnake("apiKey")).toBe("API_KEY");
    expect(upperSnake("tls.crt")).toBe("TLS_CRT");
    expect(upperSnake("3scale")).toBe("_3SCALE");
    expect(() => upperSnake("--")).toThrow(RenderError);
  });

  it("probes /readyz and /healthz on the worker's port 8080", () => {
    const c = container();
    expect(c.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: 8080 });
    expect(c.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: 8080 });
    expect(c.ports).toEqual([{ name: "http", containerPort: 8080, protocol: "TCP" }]);
  });

  it("gives the pod more time to terminate than the worker's drain grace", () => {
    for (const s of [spec(), full, spec({ timeouts: { wallClock: "10s" } })]) {
      const grace = Number(envMap(s).get("TESSERA_DRAIN_GRACE_MS")?.value);
      expect(grace).toBeGreaterThanOrEqual(WORKER_DEFAULT_DRAIN_GRACE_MS);
      expect((pod(s)?.terminationGracePeriodSeconds ?? 30) * 1000).toBeGreaterThan(grace);
    }
    // A 5-minute job may finish while draining.
    expect(Number(envMap(full).get("TESSERA_DRAIN_GRACE_MS")?.value)).toBe(300_000);
  });

  it("is deterministic", () => {
    expect(JSON.stringify(render(full))).toBe(JSON.stringify(render(full)));
  });
});
