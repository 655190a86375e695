import { describe, expect, it } from "vitest";
import { nextConditions } from "../../src/reconcile/conditions.js";
import { isContained } from "../../src/reconcile/contained.js";

describe("isContained (skip no-op writes)", () => {
  const desired = {
    metadata: { name: "x", labels: { a: "1" } },
    spec: { template: { spec: { containers: [{ name: "w", image: "i:1" }] } } },
  };

  it("holds when live has everything desired says plus what the server and other managers added", () => {
    const live = {
      metadata: { name: "x", labels: { a: "1", extra: "y" }, resourceVersion: "7", uid: "u" },
      spec: {
        replicas: 3,
        template: {
          spec: {
            containers: [{ name: "w", image: "i:1", terminationMessagePath: "/dev/termination-log" }],
            dnsPolicy: "ClusterFirst",
          },
        },
      },
      status: { readyReplicas: 3 },
    };
    expect(isContained(desired, live)).toBe(true);
  });

  it("fails on a changed value, a missing field, or a list of another length", () => {
    expect(isContained(desired, { ...desired, metadata: { name: "x", labels: { a: "2" } } })).toBe(false);
    expect(isContained(desired, { metadata: { name: "x" }, spec: desired.spec })).toBe(false);
    expect(isContained({ l: [1, 2] }, { l: [1, 2, 3] })).toBe(false);
    expect(isContained({ n: 1 }, { n: "1" })).toBe(false);
  });
});

describe("isContained and what a real API server does to stored objects", () => {
  it("treats quantities in canonical form as the same value", () => {
    expect(
      isContained(
        { resources: { limits: { cpu: "1000m", memory: "1024Mi" } } },
        { resources: { limits: { cpu: "1", memory: "1Gi" } } },
      ),
    ).toBe(true);
    expect(isContained({ emptyDir: { sizeLimit: "0.5Gi" } }, { emptyDir: { sizeLimit: "512Mi" } })).toBe(true);
    expect(isContained({ resources: { limits: { cpu: "2" } } }, { resources: { limits: { cpu: "1" } } })).toBe(false);
    // Outside resource fields a different string is a different value.
    expect(isContained({ env: [{ name: "A", value: "1000m" }] }, { env: [{ name: "A", value: "1" }] })).toBe(false);
  });

  it("treats empty strings, maps and lists the server drops as contained", () => {
    expect(isContained({ env: [{ name: "FOO", value: "" }] }, { env: [{ name: "FOO" }] })).toBe(true);
    expect(isContained({ podSelector: { matchLabels: {} } }, { podSelector: {} })).toBe(true);
    expect(isContained({ x: "" }, { x: "y" })).toBe(false);
  });
});

describe("nextConditions", () => {
  const t0 = new Date("2026-11-23T10:00:00Z");
  const t1 = new Date("2026-11-23T10:05:00Z");

  it("moves lastTransitionTime only when the status changes", () => {
    const first = nextConditions(
      [],
      [{ type: "Ready", status: "False", reason: "StreamMissing", message: "no stream yet" }],
      1,
      t0,
    );
    const same = nextConditions(
      first,
      [{ type: "Ready", status: "False", reason: "StreamMissing", message: "no stream yet" }],
      2,
      t1,
    );
    const flipped = nextConditions(same, [{ type: "Ready", status: "True", reason: "Ready", message: "ok" }], 2, t1);
    expect(same[0]).toEqual({ ...first[0], observedGeneration: 2 });
    expect(flipped[0]?.lastTransitionTime).toBe(t1.toISOString());
  });
});
