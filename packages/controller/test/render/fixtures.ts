import type { ComponentSpec } from "@tessera/contract";
import type { DeploymentObject, RenderContext } from "../../src/render/render-component.js";

export const ctx: RenderContext = {
  nats: {
    url: "nats://nats.nats.svc:4222",
    monitoringEndpoint: "nats.nats.svc:8222",
    namespace: "nats",
    podLabels: { "app.kubernetes.io/name": "nats" },
  },
};

export function spec(overrides: Partial<ComponentSpec> = {}): ComponentSpec {
  return { image: "ghcr.io/example/worker:1.0.0", inputMode: "content-ref", egress: "none", ...overrides };
}

export const component = (s: ComponentSpec = spec(), extra: { uid?: string; name?: string } = {}) => ({
  name: extra.name ?? "extract",
  namespace: "docs",
  ...(extra.uid !== undefined ? { uid: extra.uid } : {}),
  spec: s,
});

/** Every key path in a value, e.g. "spec.template.spec.containers.0.env". */
export function keyPaths(value: unknown, prefix = ""): string[] {
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => [prefix + k, ...keyPaths(v, `${prefix}${k}.`)]);
}

/** A Deployment's env as its pods see it: configMapKeyRefs read from the rendered ConfigMaps. */
export function resolvedEnv(
  deployment: DeploymentObject,
  configMaps: readonly { metadata: { name: string }; data?: Record<string, string> }[],
): Record<string, string | undefined> {
  return Object.fromEntries(
    (deployment.spec!.template.spec!.containers[0]!.env ?? []).map((e) => {
      const ref = e.valueFrom?.configMapKeyRef;
      if (ref === undefined) return [e.name, e.value];
      return [e.name, configMaps.find((c) => c.metadata.name === ref.name)?.data?.[ref.key]];
    }),
  );
}
