import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createInProcessBus, type Bus } from "@tessera/bus";
import { GuardRailError } from "@tessera/contract";
import { withOverrides } from "@tessera/testkit";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCoordinator, type CoordinatorOptions } from "../src/create-coordinator.js";
import { silent, spec } from "./harness.js";

/** A coordinator started as `TESSERA_ENV` says, against what it is given (decision 0029). */
// Several embedded databases are created per test; initdb alone can take seconds on a busy machine.
describe("environments: the coordinator's guard rails", { timeout: 120_000 }, () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "tessera-env-"));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  async function attempt(environment: string, extra: Partial<CoordinatorOptions> = {}): Promise<unknown> {
    try {
      const coordinator = await createCoordinator({
        bus: createInProcessBus(),
        components: [{ name: "idle", spec: spec() }],
        env: { TESSERA_ENV: environment },
        logger: silent,
        ...extra,
      });
      await coordinator.close();
      return "started";
    } catch (err) {
      return err;
    }
  }

  const rulesOf = (err: unknown) => (err instanceof GuardRailError ? err.findings.map((f) => f.rule) : err);

  it("production refuses jobs kept in memory: the memory store and PGlite in memory", async () => {
    expect(rulesOf(await attempt("production", { workers: "in-process" }))).toEqual(["durable_store"]);
    expect(rulesOf(await attempt("production", { workers: "in-process", database: { dataDir: "memory://" } }))).toEqual(
      ["durable_store"],
    );
    const err = await attempt("production", { workers: "in-process" });
    expect((err as Error).message).toMatch(/refusing to start in production \(TESSERA_ENV\): \[durable_store\]/);
  });

  it("production refuses the in-process bus unless the workers are said to run in this process", async () => {
    const onDisk = { database: { dataDir: join(dataDir, "a") } };
    expect(rulesOf(await attempt("production", onDisk))).toEqual(["bus_reaches_workers"]);
    expect(await attempt("production", { ...onDisk, workers: "in-process" })).toBe("started");
  });

  it("production refuses single-replica streams on a clustered NATS", async () => {
    const clustered = (bus: Bus) =>
      withOverrides(bus, { kind: "jetstream", topology: () => ({ clustered: true, streamReplicas: 1 }) });
    const opts = { database: { dataDir: join(dataDir, "b") }, workers: "in-process" as const };
    expect(rulesOf(await attempt("production", { ...opts, bus: clustered(createInProcessBus()) }))).toEqual([
      "replicated_streams",
    ]);
    // (The override stands for a JetStream bus on a clustered server; the bus's own test checks what it reports.)
  });

  it("staging starts and warns for the same things; local says nothing", async () => {
    const lines: Array<{ rule?: string; environment?: string; msg?: string; level?: number }> = [];
    const logger = pino(
      { level: "warn" },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
          done();
        },
      }),
    );
    expect(await attempt("staging", { logger })).toBe("started");
    expect(lines.map((l) => [l.environment, l.rule])).toEqual([
      ["staging", "durable_store"],
      ["staging", "bus_reaches_workers"],
    ]);
    lines.length = 0;
    expect(await attempt("local", { logger })).toBe("started");
    expect(await attempt("", { logger })).toBe("started");
    expect(lines).toEqual([]);
  });

  it("refuses an unknown environment name, naming the setting", async () => {
    expect(String(await attempt("prod"))).toMatch(/TESSERA_ENV.*expected one of local, staging, production/);
  });
});
