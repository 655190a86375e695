import { describe, expect, it } from "vitest";
import {
  busSettingsFromSpec,
  componentNameProblem,
  componentSpecJsonSchema,
  parseDuration,
  validateComponentSpec,
} from "@tessera/contract";

const base = { image: "ghcr.io/acme/extract:1.0.0" };
const messages = (v: unknown): string => {
  const r = validateComponentSpec(v);
  return r.ok ? "ok" : r.error.message;
};

describe("Component spec", () => {
  it("accepts a minimal spec and fills egress/inputMode defaults", () => {
    const r = validateComponentSpec(base);
    expect(r.ok && r.value).toMatchObject({ egress: "none", inputMode: "content-ref" });
  });

  it("names typos as unknown fields", () => {
    expect(messages({ ...base, scaling: { maxReplicass: 3 } })).toContain(
      "scaling.maxReplicass: expected no such field",
    );
  });

  it("checks types and ranges with the path", () => {
    expect(messages({ ...base, allowlist: { ports: [{ port: 70000 }] }, egress: "allowlist" })).toContain(
      "allowlist.ports[0].port: expected integer to be less or equal to 65535",
    );
    expect(messages({ ...base, timeouts: { wallClock: "5 minutes" } })).toContain(
      "timeouts.wallClock: expected a string matching",
    );
    expect(messages({ ...base, egress: "everything" })).toContain("egress");
  });

  it("takes handler limits, and names a bad one by its path", () => {
    expect(messages({ ...base, handlerLimits: { maxHeapMiB: 256, maxOutputBytes: 1_048_576 } })).toBe("ok");
    expect(messages({ ...base, handlerLimits: { maxHeapMiB: 8 } })).toContain(
      "handlerLimits.maxHeapMiB: expected integer to be greater or equal to 16",
    );
    expect(messages({ ...base, handlerLimits: { maxOutputBytes: 0 } })).toContain("handlerLimits.maxOutputBytes");
    expect(messages({ ...base, handlerLimits: { heap: "256Mi" } })).toContain(
      "handlerLimits.heap: expected no such field",
    );
  });

  it("requires an allowlist target when egress is allowlist", () => {
    expect(messages({ ...base, egress: "allowlist" })).toContain(
      "allowlist: expected at least one of cidrs, clusterPeers or openInternet",
    );
    expect(messages({ ...base, egress: "allowlist", allowlist: { ports: [{ port: 443 }] } })).toContain(
      "got none of them",
    );
    expect(messages({ ...base, egress: "allowlist", allowlist: { openInternet: true } })).toBe("ok");
  });

  it("rejects /0 and CIDRs that cover the metadata address", () => {
    expect(messages({ ...base, egress: "allowlist", allowlist: { cidrs: ["0.0.0.0/0"] } })).toContain(
      "use openInternet: true",
    );
    expect(messages({ ...base, egress: "allowlist", allowlist: { cidrs: ["::/0"] } })).toContain(
      "use openInternet: true",
    );
    expect(messages({ ...base, egress: "allowlist", allowlist: { cidrs: ["169.254.0.0/16"] } })).toContain(
      "cloud metadata address 169.254.169.254",
    );
    expect(messages({ ...base, egress: "allowlist", allowlist: { cidrs: ["128.0.0.0/1"] } })).toContain(
      "cloud metadata address",
    );
    expect(messages({ ...base, egress: "allowlist", allowlist: { cidrs: ["10.0.0.1/33"] } })).toContain(
      "allowlist.cidrs[0]: expected a CIDR",
    );
    expect(messages({ ...base, egress: "allowlist", allowlist: { cidrs: ["203.0.113.0/24", "2001:db8::/32"] } })).toBe(
      "ok",
    );
  });

  it("rejects source-locator input with no egress", () => {
    expect(messages({ ...base, inputMode: "source-locator" })).toContain(
      "egress: expected fetch-controlled or allowlist when inputMode is source-locator",
    );
    expect(messages({ ...base, inputMode: "source-locator", egress: "fetch-controlled" })).toBe("ok");
  });

  it("checks replica bounds against each other", () => {
    expect(messages({ ...base, scaling: { minReplicas: 5, maxReplicas: 2 } })).toContain(
      "scaling.minReplicas: expected at most scaling.maxReplicas (2)",
    );
  });

  it("derives bus settings with defaults", () => {
    const r = validateComponentSpec({ ...base, timeouts: { ackWait: "1m30s" }, maxDeliver: 7 });
    if (!r.ok) throw r.error;
    expect(busSettingsFromSpec("extract", r.value)).toMatchObject({
      name: "extract",
      ackWaitMs: 90_000,
      maxDeliver: 7,
    });
    expect(() => busSettingsFromSpec("Bad_Name", r.value)).toThrow(/metadata\.name: expected/);
  });

  it("emits plain JSON Schema", () => {
    const schema = componentSpecJsonSchema();
    expect(schema["type"]).toBe("object");
    expect(JSON.stringify(schema)).not.toContain("$ref");
    expect(Object.keys(schema["properties"] as object)).toContain("scaling");
  });
});

describe("names and durations", () => {
  it("component names are DNS-1123 labels", () => {
    expect(componentNameProblem("extract")).toBeUndefined();
    expect(componentNameProblem("Extract")).toMatch(/DNS-1123/);
    expect(componentNameProblem("a".repeat(64))).toMatch(/63/);
  });
  it("parses Go-style durations", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(() => parseDuration("10")).toThrow(/"30s"/);
  });
});
