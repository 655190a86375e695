import { durableConsumerName, jobStreamName } from "@tessera/contract";
import { describe, expect, it } from "vitest";
import { validateManifests, type KubeObject } from "../../src/validate/validate-manifests.js";

const labels = { "app.kubernetes.io/name": "tessera-component", "tessera.dev/component": "extract" };

/** A hand-written, known-good set for one component: what the renderers must produce in spirit. */
function goodSet(): KubeObject[] {
  return [
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "extract", namespace: "docs", labels },
      spec: {
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              runAsGroup: 65532,
              seccompProfile: { type: "RuntimeDefault" },
            },
            containers: [
              {
                name: "worker",
                image: "example/extract:1",
                securityContext: {
                  readOnlyRootFilesystem: true,
                  allowPrivilegeEscalation: false,
                  runAsNonRoot: true,
                  capabilities: { drop: ["ALL"] },
                },
                env: [{ name: "NATS_URL", value: "nats://nats.nats:4222" }],
                volumeMounts: [{ name: "scratch", mountPath: "/scratch" }],
              },
            ],
            volumes: [{ name: "scratch", emptyDir: { sizeLimit: "64Mi" } }],
          },
        },
      },
    },
    {
      apiVersion: "keda.sh/v1alpha1",
      kind: "ScaledObject",
      metadata: { name: "extract", namespace: "docs", labels },
      spec: {
        scaleTargetRef: { name: "extract" },
        minReplicaCount: 0,
        maxReplicaCount: 4,
        triggers: [
          {
            type: "nats-jetstream",
            metadata: {
              natsServerMonitoringEndpoint: "nats.nats.svc:8222",
              account: "$G",
              stream: jobStreamName("extract"),
              consumer: durableConsumerName("extract"),
              lagThreshold: "5",
            },
          },
        ],
      },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "extract-default-deny", namespace: "docs", labels },
      spec: {
        podSelector: { matchLabels: { "tessera.dev/component": "extract" } },
        policyTypes: ["Ingress", "Egress"],
      },
    },
  ];
}

// The edits reach deep into untyped manifests; `any` here keeps each test to the one line it changes.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;
function edit(objects: KubeObject[], kind: string, change: (o: Loose) => void): KubeObject[] {
  const copy = structuredClone(objects);
  change(copy.find((o) => o.kind === kind) as Loose);
  return copy;
}

describe("validateManifests", () => {
  it("accepts a hardened, consistent set", () => {
    expect(validateManifests(goodSet())).toEqual([]);
  });

  it("fails a misspelled field, which the upstream schema validators let through", () => {
    const problems = validateManifests(
      edit(
        goodSet(),
        "Deployment",
        (d) => (d.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true),
      ),
    );
    expect(problems).toContainEqual(
      expect.objectContaining({
        object: "Deployment/extract",
        path: "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem",
        message: expect.stringContaining("unknown field"),
      }),
    );
    const keda = validateManifests(edit(goodSet(), "ScaledObject", (s) => (s.spec.maxReplicas = 4)));
    expect(keda).toContainEqual(expect.objectContaining({ object: "ScaledObject/extract", path: "spec.maxReplicas" }));
  });

  it("fails a schema violation with the upstream validator's message", () => {
    const problems = validateManifests(edit(goodSet(), "Deployment", (d) => delete d.spec.template.spec.containers));
    expect(problems).toContainEqual(
      expect.objectContaining({ object: "Deployment/extract", message: expect.stringContaining("containers") }),
    );
  });

  it("fails spec.replicas: KEDA owns it", () => {
    expect(validateManifests(edit(goodSet(), "Deployment", (d) => (d.spec.replicas = 1)))).toContainEqual(
      expect.objectContaining({ path: "spec.replicas" }),
    );
  });

  it("checks the restricted Pod Security Standard", () => {
    const problems = validateManifests(
      edit(goodSet(), "Deployment", (d) => {
        const c = d.spec.template.spec.containers[0];
        c.securityContext.allowPrivilegeEscalation = true;
        c.securityContext.capabilities = { add: ["NET_ADMIN"] };
        d.spec.template.spec.volumes.push({ name: "host", hostPath: { path: "/" } });
        d.spec.template.spec.securityContext.seccompProfile = { type: "Unconfined" };
      }),
    ).map((p) => p.path);
    expect(problems).toEqual(
      expect.arrayContaining([
        "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation",
        "spec.template.spec.containers[0].securityContext.capabilities.drop",
        "spec.template.spec.containers[0].securityContext.capabilities.add",
        "spec.template.spec.volumes[1].hostPath",
        "spec.template.spec.containers[0].securityContext.seccompProfile.type",
      ]),
    );
  });

  it("checks that the ScaledObject reads the provisioned stream and consumer through host:port, and targets the Deployment", () => {
    const problems = validateManifests(
      edit(goodSet(), "ScaledObject", (s) => {
        s.spec.scaleTargetRef.name = "other";
        s.spec.triggers[0].metadata.consumer = "workers";
        s.spec.triggers[0].metadata.natsServerMonitoringEndpoint = "http://nats.nats.svc:8222";
        s.spec.triggers[0].metadata.lagThreshold = 5;
      }),
    ).map((p) => p.path);
    expect(problems).toEqual(
      expect.arrayContaining([
        "spec.scaleTargetRef",
        "spec.triggers[0].metadata.consumer",
        "spec.triggers[0].metadata.natsServerMonitoringEndpoint",
        "spec.triggers[0].metadata.lagThreshold",
      ]),
    );
  });

  it("checks that every NetworkPolicy selects the component's pods", () => {
    const problems = validateManifests(
      edit(goodSet(), "NetworkPolicy", (n) => (n.spec.podSelector.matchLabels = { "tessera.dev/component": "load" })),
    );
    expect(problems).toContainEqual(
      expect.objectContaining({ object: "NetworkPolicy/extract-default-deny", path: "spec.podSelector.matchLabels" }),
    );
  });
});
