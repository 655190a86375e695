/**
 * Shared by the process-mode tests: one real nats-server and one Postgres cluster per test file, a fresh
 * database and unique component names per test, child processes started the way a component file is
 * run (`node --conditions=@tessera/source --import tsx file.ts`), and everything a test opened closed
 * after it (last opened, first closed).
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connectJetStreamBus, type Bus } from "@tessera/bus";
import type { ComponentSpec } from "@tessera/contract";
import {
  spawnTsProcess,
  startNatsServer,
  startPostgres,
  type NatsServerHandle,
  type PostgresHandle,
  type TsProcess,
} from "@tessera/testkit";
import { runWorker, type ComponentDefinition, type WorkerHandle } from "@tessera/worker";
import { afterAll, afterEach, beforeAll } from "vitest";
import { createCoordinator, type CoordinatorOptions } from "../../src/create-coordinator.js";
import { openSqlClient } from "../../src/sql/open-sql-client.js";
import type { SqlClient } from "../../src/sql/sql-client.js";
import type { ComponentRegistration, Coordinator, JobState } from "../../src/types.js";
import { silent } from "../harness.js";

const here = dirname(fileURLToPath(import.meta.url));

/** A component spec for these tests: short ack wait so a lost delivery comes back within a test. */
export function processSpec(overrides: Partial<ComponentSpec> = {}): ComponentSpec {
  return {
    image: "example/test:1",
    inputMode: "content-ref",
    egress: "none",
    timeouts: { wallClock: "10s", ackWait: "5s" },
    maxDeliver: 3,
    ...overrides,
  };
}

/** A fixture process: `process/fixtures/<fixture>` on the TypeScript sources. */
export type Child = TsProcess;

export function spawnFixture(fixture: string, env: Record<string, string | undefined>): Child {
  return spawnTsProcess(join(here, "fixtures", fixture), { cwd: join(here, "..", ".."), env });
}

export interface ProcessSuite {
  readonly nats: NatsServerHandle;
  /** A fresh, empty database on the file's cluster. */
  database(): Promise<string>;
  /** A new connection to the file's nats-server (closed after the test). */
  bus(name: string): Promise<Bus>;
  /** A SQL client on `url` (closed after the test). */
  sql(url: string): Promise<SqlClient>;
  /** A coordinator that owns its SQL client (closed after the test unless the test closed it). */
  coordinator(
    opts: { bus: Bus; url: string; components: ComponentRegistration[] } & Partial<CoordinatorOptions>,
  ): Promise<Coordinator>;
  /** An embedded worker (stopped after the test). */
  worker(definition: ComponentDefinition, bus: Bus): Promise<WorkerHandle>;
  /** A child process (SIGKILLed after the test if still running). */
  spawn(fixture: string, env: Record<string, string | undefined>): Child;
  /** A component name no other test of the file uses. */
  componentName(prefix: string): string;
  /** Runs `cleanup` after the test (before what was opened earlier is closed). */
  defer(cleanup: () => Promise<unknown>): void;
}

/** Call at a test file's top level. */
export function processSuite(): ProcessSuite {
  let nats: NatsServerHandle | undefined;
  let postgres: PostgresHandle | undefined;
  let names = 0;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    const [n, p] = await Promise.allSettled([startNatsServer(), startPostgres()]);
    if (n.status === "fulfilled") nats = n.value;
    if (p.status === "fulfilled") postgres = p.value;
    if (n.status === "rejected") throw n.reason;
    if (p.status === "rejected") throw p.reason;
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await bounded(cleanup(), 10_000).catch(() => undefined);
  });
  afterAll(async () => {
    await Promise.allSettled([nats?.stop(), postgres?.stop()]);
  });

  const required = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} did not start`);
    return value;
  };

  return {
    get nats() {
      return required(nats, "nats-server");
    },
    database: () => required(postgres, "Postgres").createDatabase(),
    async bus(name) {
      const bus = await connectJetStreamBus({ servers: required(nats, "nats-server").url, name });
      cleanups.push(() => bus.close());
      return bus;
    },
    async sql(url) {
      const client = await openSqlClient({ databaseUrl: url });
      cleanups.push(() => client.close());
      return client;
    },
    async coordinator({ bus, url, components, ...extra }) {
      const coordinator = await createCoordinator({
        env: {},
        logger: silent,
        ...extra,
        bus,
        components,
        database: { url },
      });
      cleanups.push(() => coordinator.close());
      return coordinator;
    },
    async worker(definition, bus) {
      const worker = await runWorker(definition, {
        bus,
        logger: silent,
        heartbeatIntervalMs: 60_000,
        drainGraceMs: 1_000,
      });
      cleanups.push(() => worker.stop());
      return worker;
    },
    spawn(fixture, env) {
      const child = spawnFixture(fixture, { NATS_URL: required(nats, "nats-server").url, ...env });
      cleanups.push(() => child.kill());
      return child;
    },
    componentName: (prefix) => `${prefix}-${process.pid}-${++names}`,
    defer: (cleanup) => void cleanups.push(cleanup),
  };
}

/** What the store holds: every job's state and every outbox row (straight from SQL, no coordinator). */
export async function storeSnapshot(sql: SqlClient): Promise<{
  jobs: Array<{ jobId: string; state: JobState; dispatches: number; streamSeq: number | null }>;
  outbox: Array<{ jobId: string; dedupKey: string }>;
}> {
  const jobs = await sql.query<{ job_id: string; state: JobState; dispatches: number; stream_seq: number | null }>(
    `SELECT job_id, state, dispatches, stream_seq FROM tessera_jobs ORDER BY seq`,
  );
  const outbox = await sql.query<{ job_id: string; dedup_key: string }>(
    `SELECT job_id, dedup_key FROM tessera_outbox ORDER BY id`,
  );
  return {
    jobs: jobs.rows.map((r) => ({
      jobId: r.job_id,
      state: r.state,
      dispatches: r.dispatches,
      streamSeq: r.stream_seq,
    })),
    outbox: outbox.rows.map((r) => ({ jobId: r.job_id, dedupKey: r.dedup_key })),
  };
}

/** Each value's number of occurrences. */
export function tally(values: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

function bounded<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
