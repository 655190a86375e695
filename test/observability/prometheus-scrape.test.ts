/**
 * A process-mode stack as an operator runs it, scraped by a real Prometheus: a coordinator (this process,
 * memory store, admin API on loopback) and a worker process on a real nats-server. Checks that each
 * `/metrics` passes `promtool check metrics` and lists exactly the names its process declares, then starts
 * Debian's prometheus (generated config, loopback, temporary storage, 1 s scrape interval) and asks its HTTP
 * API for every registered family and for the values the jobs run here must have produced.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawn, type ChildProcess } from "node:child_process";
import { connectJetStreamBus, type Bus } from "@tessera/bus";
import type { ComponentSpec } from "@tessera/contract";
import {
  COORDINATOR_METRIC_NAMES,
  createCoordinator,
  startAdminServer,
  type AdminServer,
  type Coordinator,
} from "@tessera/coordinator";
import {
  freePort,
  spawnTsProcess,
  startNatsServer,
  waitFor,
  type NatsServerHandle,
  type TsProcess,
} from "@tessera/testkit";
import { WORKER_METRIC_NAMES } from "@tessera/worker";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTool, run } from "./support/tools.js";

const here = dirname(fileURLToPath(import.meta.url));
const promtool = requireTool("promtool", "the promtool check of the coordinator's and the worker's /metrics");
const prometheus = requireTool("prometheus", "the Prometheus scrape test");
const component = `observed-${process.pid}`;
const JOBS = 3;
const spec: ComponentSpec = {
  image: "example/test:1",
  inputMode: "content-ref",
  egress: "none",
  timeouts: { wallClock: "10s", ackWait: "5s" },
};

let nats: NatsServerHandle | undefined;
let bus: Bus | undefined;
let coordinator: Coordinator | undefined;
let admin: AdminServer | undefined;
let worker: TsProcess | undefined;
let workerMetricsUrl = "";

beforeAll(async () => {
  nats = await startNatsServer();
  bus = await connectJetStreamBus({ servers: nats.url, name: "observed-coordinator" });
  coordinator = await createCoordinator({
    env: {},
    logger: pino({ level: "silent" }),
    bus,
    components: [{ name: component, spec }],
    database: { memory: true },
  });
  admin = await startAdminServer(coordinator, { logger: false });
  worker = spawnTsProcess(join(here, "fixtures", "echo-worker.ts"), {
    cwd: join(here, "..", ".."),
    env: {
      NATS_URL: nats.url,
      TEST_COMPONENT: component,
      TESSERA_HTTP_PORT: "0",
      TESSERA_HEARTBEAT_INTERVAL_MS: "500",
    },
  });
  const started = await worker.line("worker started", (l) => l["msg"] === "worker started", 60_000);
  workerMetricsUrl = `http://127.0.0.1:${String(started["httpPort"])}/metrics`;
  const ids: string[] = [];
  for (let i = 0; i < JOBS; i++) ids.push((await coordinator.submit(component, { json: { i } })).jobId);
  for (const id of ids) expect((await coordinator.waitForJob(id, { timeoutMs: 30_000 })).state).toBe("completed");
}, 120_000);

afterAll(async () => {
  await worker?.kill();
  await admin?.close();
  await coordinator?.close();
  await bus?.close();
  await nats?.stop();
});

/** The metric names an exposition declares (its `# TYPE` lines). */
function declaredNames(exposition: string): string[] {
  return [...exposition.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] ?? "").sort();
}

describe("each process's /metrics", () => {
  const targets = (): Array<{ process: string; url: string; names: readonly string[] }> => [
    { process: "coordinator", url: `${admin?.url ?? ""}/metrics`, names: COORDINATOR_METRIC_NAMES },
    { process: "worker", url: workerMetricsUrl, names: WORKER_METRIC_NAMES },
  ];

  it("declares exactly the names its process lists", async () => {
    for (const t of targets()) {
      const text = await (await fetch(t.url)).text();
      expect(declaredNames(text), t.process).toEqual([...t.names].sort());
    }
  });

  it.skipIf(promtool === undefined)("passes promtool check metrics", async () => {
    for (const t of targets()) {
      const text = await (await fetch(t.url)).text();
      const { code, output } = await run(promtool ?? "promtool", ["check", "metrics"], { stdin: text });
      expect(output, t.process).toBe("");
      expect(code, t.process).toBe(0);
    }
  });
});

describe.skipIf(prometheus === undefined)("a real Prometheus scraping the stack", { timeout: 120_000 }, () => {
  let server: ChildProcess | undefined;
  let api = "";
  let storage = "";

  beforeAll(async () => {
    storage = mkdtempSync(join(tmpdir(), "tessera-prometheus-"));
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    const target = (url: string): string => new URL(url).host;
    writeFileSync(
      join(storage, "prometheus.yml"),
      [
        "global: { scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s }",
        "scrape_configs:",
        `  - { job_name: coordinator, static_configs: [{ targets: ["${target(admin?.url ?? "")}"] }] }`,
        `  - { job_name: worker, static_configs: [{ targets: ["${target(workerMetricsUrl)}"] }] }`,
        "",
      ].join("\n"),
    );
    server = spawn(
      prometheus ?? "prometheus",
      [
        `--config.file=${join(storage, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(storage, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let log = "";
    server.stderr?.on("data", (chunk: Buffer) => void (log += chunk.toString()));
    await waitFor(
      `Prometheus ready on ${api} (log: ${log})`,
      async () => (await fetch(`${api}/-/ready`).catch(() => undefined))?.ok === true,
      60_000,
    );
  }, 90_000);

  afterAll(async () => {
    if (server !== undefined && server.exitCode === null) {
      const exited = new Promise((resolve) => server?.once("exit", resolve));
      server.kill("SIGTERM");
      await exited;
    }
    if (storage !== "") rmSync(storage, { recursive: true, force: true });
  });

  /** An instant query's samples: labels and value. */
  async function query(promql: string): Promise<Array<{ metric: Record<string, string>; value: number }>> {
    const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    if (body.status !== "success") throw new Error(`${promql}: ${body.error ?? body.status}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** Waits until a query answers something `check` accepts (scrapes come every second). */
  const eventually = (promql: string, check: (r: Awaited<ReturnType<typeof query>>) => boolean) =>
    waitFor(`Prometheus to answer ${promql} as expected`, async () => check(await query(promql)), 30_000);

  it("scrapes both processes", async () => {
    await eventually('up{job=~"coordinator|worker"} == 1', (r) => r.length === 2);
    await eventually("count by (job) (tessera_build_info)", (r) => r.length === 2);
  });

  it("holds a series of every family each process registers", async () => {
    const all = [
      ...COORDINATOR_METRIC_NAMES.map((n) => ["coordinator", n]),
      ...WORKER_METRIC_NAMES.map((n) => ["worker", n]),
    ];
    for (const [job, name] of all)
      await eventually(`count({__name__=~"${name}(_bucket)?", job="${job}"})`, (r) => (r[0]?.value ?? 0) > 0);
  });

  it("has counted the jobs run here, on both sides", async () => {
    const sel = `component="${component}"`;
    await eventually(`tessera_coordinator_jobs_submitted_total{${sel}}`, (r) => r[0]?.value === JOBS);
    await eventually(
      `tessera_coordinator_jobs_decided_total{${sel},state="completed",reason="none"}`,
      (r) => r[0]?.value === JOBS,
    );
    await eventually(`tessera_jobs_total{${sel},outcome="completed"}`, (r) => r[0]?.value === JOBS);
    await eventually(`tessera_coordinator_jobs{${sel},state="completed"}`, (r) => r[0]?.value === JOBS);
    await eventually(`tessera_coordinator_healthy_instances{${sel}}`, (r) => r[0]?.value === 1);
    await eventually(`tessera_coordinator_queue_depth{${sel}}`, (r) => r[0]?.value === 0);
    await eventually(`tessera_coordinator_dead_letters_total{${sel}}`, (r) => r[0]?.value === 0);
    await eventually(
      'sum(tessera_coordinator_result_apply_duration_seconds_count{outcome="applied"})',
      (r) => r[0]?.value === JOBS,
    );
    await eventually(
      `sum(tessera_handler_duration_seconds_count{${sel},outcome="completed"})`,
      (r) => r[0]?.value === JOBS,
    );
  });
});
