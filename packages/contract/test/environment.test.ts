import { describe, expect, it } from "vitest";
import {
  GuardRailError,
  enforceGuardRails,
  guardRailFindings,
  guardRailVerdict,
  parseEnvironment,
  type DeploymentFacts,
  type GuardRailFinding,
} from "../src/index.js";

const rules = (facts: DeploymentFacts) => guardRailFindings(facts).map((f) => f.rule);

describe("environments and their guard rails", () => {
  it("reads TESSERA_ENV: unset or empty is local, names are case-insensitive, anything else names the variable", () => {
    expect(parseEnvironment(undefined)).toBe("local");
    expect(parseEnvironment("  ")).toBe("local");
    expect(parseEnvironment("Production")).toBe("production");
    expect(() => parseEnvironment("prod")).toThrow(
      /TESSERA_ENV: expected one of local, staging, production, got "prod"/,
    );
  });

  it("finds the gateway's in-process inbound stream (refused in production) and unsigned adapters (refused outside local)", () => {
    expect(rules({ gateway: { inbound: "jetstream", unsignedAdapters: [] } })).toEqual([]);
    const embedded: DeploymentFacts = { gateway: { inbound: "in-process", unsignedAdapters: ["sample"] } };
    expect(rules(embedded)).toEqual(["gateway_inbound_stream", "unsigned_webhooks"]);
    const findings = guardRailFindings(embedded);
    expect(guardRailVerdict("production", findings).refuse.map((f) => f.rule)).toEqual([
      "gateway_inbound_stream",
      "unsigned_webhooks",
    ]);
    const staging = guardRailVerdict("staging", findings);
    expect([staging.refuse.map((f) => f.rule), staging.warn.map((f) => f.rule)]).toEqual([
      ["unsigned_webhooks"],
      ["gateway_inbound_stream"],
    ]);
    expect(guardRailVerdict("local", findings)).toEqual({ refuse: [], warn: [] });
  });

  it("finds a store that keeps jobs in memory", () => {
    expect(rules({ store: { kind: "memory" } })).toEqual(["durable_store"]);
    expect(rules({ store: { kind: "embedded-memory" } })).toEqual(["durable_store"]);
    expect(rules({ store: { kind: "embedded-disk" } })).toEqual([]);
    expect(rules({ store: { kind: "postgres" } })).toEqual([]);
  });

  it("finds the in-process bus with workers elsewhere, and single-replica streams on a clustered server", () => {
    expect(rules({ bus: { kind: "inprocess", workers: "elsewhere" } })).toEqual(["bus_reaches_workers"]);
    expect(rules({ bus: { kind: "inprocess", workers: "in-process" } })).toEqual([]);
    expect(rules({ bus: { kind: "jetstream", workers: "elsewhere", clustered: true, streamReplicas: 1 } })).toEqual([
      "replicated_streams",
    ]);
    expect(rules({ bus: { kind: "jetstream", workers: "elsewhere", clustered: true, streamReplicas: 3 } })).toEqual([]);
    expect(rules({ bus: { kind: "jetstream", workers: "elsewhere", clustered: false, streamReplicas: 1 } })).toEqual(
      [],
    );
  });

  it("finds an admin API beyond loopback that allows changes without a token", () => {
    expect(rules({ admin: { host: "0.0.0.0", loopback: false, changesWithoutToken: true } })).toEqual(["admin_token"]);
    expect(rules({ admin: { host: "0.0.0.0", loopback: false, changesWithoutToken: false } })).toEqual([]);
    expect(rules({ admin: { host: "127.0.0.1", loopback: true, changesWithoutToken: true } })).toEqual([]);
  });

  it("finds components rendered without resources, naming what is missing", () => {
    const found = guardRailFindings({
      manifests: [
        { name: "extract", spec: { image: "x", inputMode: "content-ref", egress: "none" } },
        {
          name: "embed",
          spec: {
            image: "x",
            inputMode: "content-ref",
            egress: "none",
            resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
          },
        },
      ],
    });
    expect(found).toEqual([
      {
        rule: "component_resources",
        message: expect.stringMatching(
          /^component extract: spec.resources requests.cpu, requests.memory, limits.memory not set/,
        ),
      },
    ]);
  });

  it("refuses in production, warns in staging, checks nothing locally", () => {
    const facts: DeploymentFacts = { store: { kind: "memory" } };
    const warned: GuardRailFinding[] = [];
    expect(() => enforceGuardRails("production", facts, (f) => warned.push(f))).toThrow(GuardRailError);
    try {
      enforceGuardRails("production", facts, () => undefined);
    } catch (err) {
      expect((err as GuardRailError).message).toMatch(
        /^refusing to start in production \(TESSERA_ENV\): \[durable_store\] jobs are kept in memory/,
      );
    }
    expect(warned).toEqual([]);
    enforceGuardRails("staging", facts, (f) => warned.push(f));
    expect(warned.map((f) => f.rule)).toEqual(["durable_store"]);
    expect(guardRailVerdict("local", guardRailFindings(facts))).toEqual({ refuse: [], warn: [] });
  });
});
