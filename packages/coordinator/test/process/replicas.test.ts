/**
 * Several coordinators on one Postgres and one nats-server behave as one coordinator: per-key limits hold
 * across them, every job is published once, every replica hears of every transition, a setting written on
 * one is in force on all, and the maintenance lease moves when its holder goes.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { peakOverlap, waitFor } from "@tessera/testkit";
import { defineComponent } from "@tessera/worker";
import { describe, expect, it } from "vitest";
import { createCoordinator } from "../../src/create-coordinator.js";
import { openSqlClient } from "../../src/sql/open-sql-client.js";
import { MAINTENANCE_LEASE, PRESENCE_TTL_MS } from "../../src/replicas/replica-set.js";
import { ReplicaStore } from "../../src/replicas/replica-store.js";
import type { Coordinator, JobEvent, KeyLimits } from "../../src/types.js";
import { silent } from "../harness.js";
import { processSpec, processSuite } from "./support.js";

const suite = processSuite();

interface Run {
  tenant: string;
  start: number;
  end: number;
}

/** The most runs of one key that overlapped in time, by key. */
function peakPerKey(runs: readonly Run[]): Map<string, number> {
  return new Map(
    [...new Set(runs.map((r) => r.tenant))].map((t) => [t, peakOverlap(runs.filter((r) => r.tenant === t))]),
  );
}

async function replicas(count: number, component: string, limits: KeyLimits) {
  const url = await suite.database();
  const coordinators: Coordinator[] = [];
  for (let i = 0; i < count; i++) {
    coordinators.push(
      await suite.coordinator({
        bus: await suite.bus(`coordinator-${i}`),
        url,
        components: [{ name: component, spec: processSpec(), limits }],
        settingsFile: { "relay.pollIntervalMs": 200 },
      }),
    );
  }
  return { url, coordinators };
}

/** A worker whose handler logs when each job of a tenant runs. */
async function timedWorker(component: string, runs: Run[], sleepMs: () => number): Promise<void> {
  await suite.worker(
    defineComponent({
      isolation: "none",
      name: component,
      concurrency: 16,
      async handle(ctx) {
        const start = performance.now();
        await sleep(sleepMs());
        runs.push({ tenant: ctx.metadata.tenant as string, start, end: performance.now() });
        return {};
      },
    }),
    await suite.bus("worker"),
  );
}

describe("coordinators as replicas on one Postgres", () => {
  it("with concurrency 1 per key and 20 keys, three replicas finish every job, one run per key at a time, each published once", async () => {
    const component = suite.componentName("replicated");
    const { coordinators } = await replicas(3, component, { key: "tenant", concurrency: 1 });
    const runs: Run[] = [];
    await timedWorker(component, runs, () => 2 + Math.random() * 8);
    const seen = coordinators.map(() => new Map<string, JobEvent>());
    coordinators.forEach((c, i) =>
      c.onJobEvent((e) => {
        if (e.state === "completed") seen[i]?.set(e.jobId, e);
      }),
    );

    const tenants = Array.from({ length: 20 }, (_, i) => `t${i}`);
    const jobs: Array<{ jobId: string; on: number }> = [];
    let n = 0;
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        tenants.map(async (tenant) => {
          const on = n++ % coordinators.length;
          const { jobId } = await (coordinators[on] as Coordinator).submit(
            component,
            { json: { tenant, round } },
            { metadata: { tenant } },
          );
          jobs.push({ jobId, on });
        }),
      );
    }
    // Each job waited for on a replica that did not submit it: its waiter hears of the Result from whichever
    // replica applied it.
    const finished = await Promise.all(
      jobs.map(({ jobId, on }) =>
        (coordinators[(on + 1) % coordinators.length] as Coordinator).waitForJob(jobId, { timeoutMs: 60_000 }),
      ),
    );
    expect(finished.every((j) => j.state === "completed")).toBe(true);
    expect(runs).toHaveLength(200);
    expect(Math.max(...peakPerKey(runs).values())).toBe(1);
    // A Result can be recorded before its publish is: wait for the records, then each job was published once.
    const published = (): number => coordinators.reduce((sum, c) => sum + c.counters().published, 0);
    await waitFor("every publish to be recorded", () => published() >= 200, 5_000);
    await sleep(200);
    expect(published()).toBe(200);
    const stored = await Promise.all(jobs.map(({ jobId }) => (coordinators[0] as Coordinator).getJob(jobId)));
    expect(stored.map((j) => j?.dispatches)).toEqual(jobs.map(() => 1));
    // Every replica heard of every completion, whichever replica recorded it.
    await waitFor("every replica to hear of every completion", () => seen.every((s) => s.size === 200), 5_000);
  });

  it("holds a key to its rate across three replicas", async () => {
    const component = suite.componentName("rated");
    const { coordinators } = await replicas(3, component, { key: "tenant", rate: { limit: 5, intervalMs: 1_000 } });
    const runs: Run[] = [];
    await timedWorker(component, runs, () => 1);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const c = coordinators[i % 3] as Coordinator;
      ids.push((await c.submit(component, { json: i }, { metadata: { tenant: "only" } })).jobId);
    }
    await Promise.all(ids.map((id) => (coordinators[0] as Coordinator).waitForJob(id, { timeoutMs: 30_000 })));
    const starts = runs.map((r) => r.start).sort((a, b) => a - b);
    // A full bucket of 5, then 5 a second: the 20th start comes no sooner than 3 s after the first, less the
    // one token of slack the target allows.
    const span = (starts.at(-1) as number) - (starts[0] as number);
    expect(span).toBeGreaterThanOrEqual(2_800 - 200);
    // And in no second do more than the bucket plus a second's refill (and one token) start.
    for (const s of starts) expect(starts.filter((t) => t >= s && t < s + 1_000).length).toBeLessThanOrEqual(11);
  });

  it("puts a setting written on one replica in force on the others within a second", async () => {
    const component = suite.componentName("settings");
    const { coordinators } = await replicas(2, component, { key: "tenant", concurrency: 1 });
    const [a, b] = coordinators as [Coordinator, Coordinator];
    await a.settings.set(`limits.${component}`, { key: "tenant", concurrency: 3 });
    await waitFor(
      "the other replica to read the new limits",
      () => (b.settings.get(`limits.${component}`)?.value as KeyLimits | null)?.concurrency === 3,
      1_000,
      10,
    );
  });

  it("hands the maintenance lease to another coordinator when its holder stops, or lapses when it dies", async () => {
    const component = suite.componentName("lease");
    const { url, coordinators } = await replicas(2, component, { key: "tenant", concurrency: 1 });
    const sql = await openSqlClient({ databaseUrl: url });
    suite.defer(() => sql.close());
    const holder = async (): Promise<string | undefined> =>
      (await sql.query<{ holder: string }>("SELECT holder FROM tessera_leases WHERE name = $1", [MAINTENANCE_LEASE]))
        .rows[0]?.holder;
    const store = new ReplicaStore(sql);
    expect(await store.live()).toHaveLength(2);
    expect(await store.live()).toContain(await holder());
    // Whichever held it, after one stops the one left holds it (a stopping coordinator retires its lease).
    await (coordinators[0] as Coordinator).close();
    const [left] = await store.live();
    expect(left).toBeDefined();
    await waitFor("the coordinator left to hold the lease", async () => (await holder()) === left, 3_000);
    // A holder that dies keeps the lease only until it lapses: a stale row taken over after the TTL.
    await sql.query("UPDATE tessera_leases SET holder = 'dead', expires_at = now() + $1 * interval '1 millisecond'", [
      PRESENCE_TTL_MS,
    ]);
    expect(await store.holdLease(MAINTENANCE_LEASE, "someone", PRESENCE_TTL_MS)).toBe(false);
    await sql.query("UPDATE tessera_leases SET expires_at = now() - interval '1 millisecond'");
    expect(await store.holdLease(MAINTENANCE_LEASE, "someone", PRESENCE_TTL_MS)).toBe(true);
  });
});

describe("stores that cannot be shared", () => {
  it("refuses to start a PGlite coordinator beside a Postgres one on the same bus, and a Postgres one beside a PGlite one", async () => {
    const component = suite.componentName("lonely");
    const components = [{ name: component, spec: processSpec() }];
    const url = await suite.database();
    const onPostgres = await suite.coordinator({ bus: await suite.bus("pg"), url, components });
    const pglite = createCoordinator({
      bus: await suite.bus("pglite"),
      components,
      database: { dataDir: "memory://" },
      env: {},
      logger: silent,
    });
    await expect(pglite).rejects.toThrow(
      /another coordinator \(tessera:[0-9a-f-]+, on Postgres\) is running on this bus, and this coordinator's store \(PGlite\) cannot be shared/,
    );
    await onPostgres.close();
    const alone = await createCoordinator({
      bus: await suite.bus("pglite-2"),
      components,
      database: { dataDir: "memory://" },
      env: {},
      logger: silent,
    });
    suite.defer(() => alone.close());
    await expect(suite.coordinator({ bus: await suite.bus("pg-2"), url, components })).rejects.toThrow(
      /on PGlite\) is running on this bus, and its store \(PGlite\) cannot be shared/,
    );
  });
});
