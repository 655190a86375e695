/**
 * Process mode, assembled for a fault scenario: a real Postgres cluster, a real nats-server with a file
 * store, the coordinator process (admin API on a fixed port, so it is found again after a restart) and N
 * worker processes, each kept running by a Supervised handle, plus the run directory they share.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, nanos } from "@nats-io/transport-node";
import { connectJetStreamBus } from "@tessera/bus";
import {
  ADVISORY_STREAM,
  COORDINATOR_ADVISORIES_CONSUMER,
  COORDINATOR_RESULTS_CONSUMER,
  RESULTS_STREAM,
  busSettingsFromSpec,
  durableConsumerName,
  jobStreamName,
  type ComponentSpec,
} from "@tessera/contract";
import {
  freePort,
  startNatsServer,
  startPostgres,
  waitFor,
  type NatsServerHandle,
  type PostgresHandle,
  type TsProcess,
} from "@tessera/testkit";
import type { KeyLimits } from "@tessera/coordinator";
import { SideEffects } from "./side-effects.js";
import { Supervised } from "./supervisor.js";

const here = dirname(fileURLToPath(import.meta.url));
const FAULTS_ROOT = join(here, "..");
const PROCESSES = join(FAULTS_ROOT, "processes");

/** The one component of a fault scenario (faults/processes/worker.ts). */
export const COMPONENT = "faults";

/** The component's spec: a short ack wait so a job held by a killed worker comes back quickly. */
export function faultSpec(opts: { ackWaitMs?: number; maxDeliver?: number } = {}): ComponentSpec {
  const ackWaitMs = opts.ackWaitMs ?? 2_000;
  return {
    image: "tessera/faults:1",
    inputMode: "content-ref",
    egress: "none",
    timeouts: { wallClock: "30s", ackWait: `${ackWaitMs / 1000}s` },
    maxDeliver: opts.maxDeliver ?? 20,
  };
}

export interface StackOptions {
  spec?: ComponentSpec;
  /** Worker processes. Default 2. */
  workers?: number;
  /** Handlers per worker process. Default 4. */
  concurrency?: number;
  /** The handler sleeps 0..N ms twice per job. Default 20. */
  handlerSleepMs?: number;
  /**
   * The ack wait of the coordinator's own consumers (Results, advisories), set before the coordinator first
   * starts. Default: the product's (30 s), which is how long Results a killed coordinator held wait.
   */
  coordinatorAckWaitMs?: number;
  /** Creates the coordinator's database and returns its URL. Default: a fresh database on the cluster. */
  database?: (postgres: PostgresHandle) => Promise<string>;
  /** Coordinator processes on the one database (replicas), each with its own admin API. Default 1. */
  coordinators?: number;
  /** The component's per-key limits (its jobs carry the key in metadata `tenant`). Default: none. */
  limits?: KeyLimits;
}

export interface SubmitReply {
  status: number;
  body: Record<string, unknown>;
}

export interface Stack {
  readonly postgres: PostgresHandle;
  readonly nats: NatsServerHandle;
  readonly databaseUrl: string;
  readonly dir: string;
  readonly effects: SideEffects;
  /** The first coordinator (the only one unless `coordinators` was given). */
  readonly coordinator: Supervised;
  readonly coordinators: readonly Supervised[];
  readonly workers: readonly Supervised[];
  /** The first coordinator's admin API, e.g. `http://127.0.0.1:41234`. */
  readonly adminUrl: string;
  /** Every coordinator's admin API, in the order of `coordinators`. */
  readonly adminUrls: readonly string[];
  /** One call to the admin API: the first coordinator that answers (no retry beyond that). */
  api(method: string, path: string, body?: unknown): Promise<SubmitReply>;
  /** One submit of `{ json: input }` through the admin API (no retry). */
  submit(key: string, input: unknown): Promise<SubmitReply>;
  /** Waits until the component's stream holds nothing (no delivery pending or unacknowledged). */
  drained(timeoutMs: number): Promise<void>;
  /** Stops the processes (gracefully), the servers, and removes the run directory unless `keepDir`. */
  close(opts?: { keepDir?: boolean }): Promise<void>;
}

/** Creates the component's stream and consumer and the shared streams, and sets the coordinator consumers' ack wait. */
async function provision(
  natsUrl: string,
  spec: ComponentSpec,
  coordinatorAckWaitMs: number | undefined,
): Promise<void> {
  const bus = await connectJetStreamBus({ servers: natsUrl, name: "faults-provision" });
  try {
    await bus.ensureComponent(busSettingsFromSpec(COMPONENT, spec));
  } finally {
    await bus.close();
  }
  if (coordinatorAckWaitMs === undefined) return;
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    for (const [stream, durable] of [
      [RESULTS_STREAM, COORDINATOR_RESULTS_CONSUMER],
      [ADVISORY_STREAM, COORDINATOR_ADVISORIES_CONSUMER],
    ] as const) {
      await jsm.consumers.update(stream, durable, { ack_wait: nanos(coordinatorAckWaitMs) });
    }
  } finally {
    await nc.close();
  }
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const spec = opts.spec ?? faultSpec();
  const dir = await mkdtemp(join(tmpdir(), "tessera-faults-"));
  const [pg, nt] = await Promise.allSettled([startPostgres(), startNatsServer()]);
  const children: Supervised[] = [];
  const teardown = async (keepDir: boolean): Promise<void> => {
    await Promise.allSettled(children.map((c) => c.stop(5_000)));
    await Promise.allSettled([
      nt.status === "fulfilled" ? nt.value.stop() : undefined,
      pg.status === "fulfilled" ? pg.value.stop() : undefined,
    ]);
    if (!keepDir) await rm(dir, { recursive: true, force: true });
  };
  try {
    if (pg.status === "rejected") throw pg.reason;
    if (nt.status === "rejected") throw nt.reason;
    const postgres = pg.value;
    const nats = nt.value;
    const databaseUrl = await (opts.database ?? ((p) => p.createDatabase("faults")))(postgres);
    const effects = new SideEffects(dir);
    await provision(nats.url, spec, opts.coordinatorAckWaitMs);
    const coordinatorCount = opts.coordinators ?? 1;
    const adminPorts: number[] = [];
    for (let i = 0; i < coordinatorCount; i++) adminPorts.push(await freePort());
    const coordinators = adminPorts.map((adminPort, i) =>
      new Supervised({
        name: coordinatorCount === 1 ? "coordinator" : `coordinator-${i}`,
        file: join(PROCESSES, "coordinator.ts"),
        cwd: FAULTS_ROOT,
        env: {
          DATABASE_URL: databaseUrl,
          NATS_URL: nats.url,
          FAULTS_DIR: dir,
          FAULTS_COMPONENT: COMPONENT,
          FAULTS_SPEC: JSON.stringify(spec),
          FAULTS_ADMIN_PORT: String(adminPort),
          ...(opts.limits !== undefined ? { FAULTS_LIMITS: JSON.stringify(opts.limits) } : {}),
          LOG_LEVEL: "warn",
        },
        ready: (child: TsProcess) => child.line("the coordinator to be ready", (l) => l["event"] === "ready", 60_000),
      }).start(),
    );
    children.push(...coordinators);
    const coordinator = coordinators[0] as Supervised;
    const workers = Array.from({ length: opts.workers ?? 2 }, (_, i) =>
      new Supervised({
        name: `worker-${i}`,
        file: join(PROCESSES, "worker.ts"),
        cwd: FAULTS_ROOT,
        env: {
          NATS_URL: nats.url,
          FAULTS_DIR: dir,
          FAULTS_COMPONENT: COMPONENT,
          FAULTS_CONCURRENCY: String(opts.concurrency ?? 4),
          FAULTS_SLEEP_MS: String(opts.handlerSleepMs ?? 20),
          TESSERA_INSTANCE_ID: `worker-${i}`,
          TESSERA_DRAIN_GRACE_MS: "2000",
          // "job consumer bound; ready" is an info line.
          LOG_LEVEL: "info",
        },
        ready: (child: TsProcess) =>
          child.line("the worker to bind its consumer", (l) => l["msg"] === "job consumer bound; ready", 60_000),
      }).start(),
    );
    children.push(...workers);
    await Promise.all(children.map((c) => c.whenReady()));

    const adminUrls = adminPorts.map((port) => `http://127.0.0.1:${port}`);
    const adminUrl = adminUrls[0] as string;
    const api = async (method: string, path: string, body?: unknown): Promise<SubmitReply> => {
      let lastError: unknown;
      for (const url of adminUrls) {
        try {
          const res = await fetch(`${url}${path}`, {
            method,
            ...(body !== undefined
              ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }
              : {}),
            signal: AbortSignal.timeout(15_000),
          });
          const text = await res.text();
          return { status: res.status, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
        } catch (err) {
          lastError = err;
        }
      }
      throw lastError;
    };
    return {
      postgres,
      nats,
      databaseUrl,
      dir,
      effects,
      coordinator,
      coordinators,
      workers,
      adminUrl,
      adminUrls,
      api,
      submit: (key, input) =>
        api("POST", "/api/v1/jobs", { component: COMPONENT, input: { json: input }, idempotencyKey: key }),
      async drained(timeoutMs) {
        const nc = await connect({ servers: nats.url });
        try {
          const jsm = await jetstreamManager(nc);
          let last = "";
          await waitFor(
            `the ${COMPONENT} stream to drain`,
            async () => {
              const info = await jsm.consumers.info(jobStreamName(COMPONENT), durableConsumerName(COMPONENT));
              // Enough to tell workers that stopped pulling (waiting pulls 0) from entries the server never redelivers.
              last =
                `pending ${info.num_pending}, ack pending ${info.num_ack_pending}, redelivered ${info.num_redelivered}, waiting pulls ${info.num_waiting}, ` +
                `delivered stream seq ${info.delivered.stream_seq}, ack floor stream seq ${info.ack_floor.stream_seq}`;
              return info.num_pending + info.num_ack_pending === 0;
            },
            timeoutMs,
            200,
          ).catch((err: unknown) => Promise.reject(new Error(`${(err as Error).message} (${last})`)));
        } finally {
          await nc.close();
        }
      },
      close: (o) => teardown(o?.keepDir === true),
    };
  } catch (err) {
    await teardown(false);
    throw err;
  }
}
