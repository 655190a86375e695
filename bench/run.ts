/**
 * The benchmark's one entry point (`npm run bench`, docs/performance.md). Measures, in one run on one
 * nats-server: raw job-only JetStream, the hand-written baseline (job + result), Tessera in process mode
 * (Postgres with one coordinator and with three replicas, and PGlite) and embedded (the memory store and PGlite in memory), BullMQ and pg-boss when bench/peers is installed, then latency at
 * fixed offered rates, scaling with worker processes, payload sizes and the cost of handler threads against
 * the in-thread path, and the gateway's inbound server against a bare HTTP server; prints a table and the ratios to the baselines (and to BullMQ), and JSON with --json.
 */
import { writeFile, mkdir } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { PACKAGES, startBenchEnv } from "./src/bench-env.js";
import { embeddedBusOnly } from "./src/embedded-bus.js";
import { gatewayCost } from "./src/gateway.js";
import { gatewayFairness } from "./src/gateway-fairness.js";
import { isolationCost } from "./src/isolation.js";
import { tracingCost } from "./src/tracing.js";
import { latencyAtRate, submitAndDrain } from "./src/drive-coordinator.js";
import { payloadOf, textPayload } from "./src/payloads.js";
import { BULLMQ, loadPeers, peersMissing, PG_BOSS, type Peers } from "./src/peers.js";
import { rawJetStream } from "./src/raw-jetstream.js";
import { ratios, renderReport, type BenchReport, type ThroughputRow } from "./src/report.js";
import { tesseraEmbedded, tesseraProcess, type TesseraSetup } from "./src/tessera-modes.js";
import type { SubmitInput } from "@tessera/coordinator";

const here = dirname(fileURLToPath(import.meta.url));

const USAGE = `usage: npm run bench -- [--quick] [--json] [--only throughput,latency,scaling,payloads,isolation,gateway,tracing] [--jobs n,...]

  --quick   small sizes, finishes in under a minute (CI smoke: checks it runs, not its timings)
  --json    print the report as JSON only (it is always written to bench/results/latest.json,
            or latest-quick.json with --quick)
  --only    run only these scenario groups (default: all)
  --jobs    the throughput group's job counts (default: 20000,100000; 2000 with --quick)

BullMQ and pg-boss join the throughput and latency groups when bench/peers is installed
(npm run bench:peers:install, and redis-server: apt-get install -y redis-server).`;

const GROUPS = ["throughput", "latency", "scaling", "payloads", "isolation", "gateway", "tracing"] as const;
type Group = (typeof GROUPS)[number];

function parse(): { quick: boolean; json: boolean; groups: Set<Group>; jobs: number[] | undefined } {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        quick: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        only: { type: "string" },
        jobs: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const groups = new Set<Group>();
  for (const g of (values.only ?? GROUPS.join(",")).split(",").map((s) => s.trim())) {
    if (!(GROUPS as readonly string[]).includes(g)) {
      process.stderr.write(
        `bench: --only: unknown group ${JSON.stringify(g)}, expected some of ${GROUPS.join(", ")}\n`,
      );
      process.exit(2);
    }
    groups.add(g as Group);
  }
  let jobs: number[] | undefined;
  if (values.jobs !== undefined) {
    jobs = values.jobs.split(",").map((s) => Number(s.trim()));
    if (jobs.some((n) => !Number.isInteger(n) || n < 1)) {
      process.stderr.write(
        `bench: --jobs: expected positive integers separated by commas, got ${JSON.stringify(values.jobs)}\n`,
      );
      process.exit(2);
    }
  }
  return { quick: values.quick, json: values.json, groups, jobs };
}

const args = parse();
const sizes = args.quick
  ? {
      throughput: [2_000],
      latencySeconds: 2,
      rates: [1_000],
      scaling: [1, 2],
      scalingJobs: 2_000,
      payloadJobs: { 256: 1_000, 65_536: 200, 5_242_880: 4 },
      isolation: { jobs: 1_000, rate: 200, seconds: 1, warmupJobs: 200 },
      gateway: { requests: 1_000, rate: 1_000, seconds: 1, warmupRequests: 200 },
      fairnessSeconds: 2,
      tracing: { jobs: 1_000, passes: 1, warmupJobs: 200 },
    }
  : {
      throughput: [20_000, 100_000],
      latencySeconds: 10,
      rates: [1_000, 5_000],
      scaling: [1, 2, 4],
      scalingJobs: 20_000,
      payloadJobs: { 256: 20_000, 65_536: 2_000, 5_242_880: 40 },
      isolation: { jobs: 20_000, rate: 1_000, seconds: 10, warmupJobs: 2_000 },
      gateway: { requests: 20_000, rate: 1_000, seconds: 10, warmupRequests: 2_000 },
      fairnessSeconds: 10,
      tracing: { jobs: 20_000, passes: 3, warmupJobs: 2_000 },
    };
if (args.jobs !== undefined) sizes.throughput = args.jobs;
const log = (text: string): void => void (args.json ? process.stderr : process.stdout).write(`${text}\n`);

// One payload for every job, as the raw loops publish one buffer: the work measured is the platform's.
const text256 = textPayload(256);
const inline256 = (): SubmitInput => ({ text: text256 });
const warmup = !args.quick;

async function withSetup<T>(setup: Promise<TesseraSetup>, run: (s: TesseraSetup) => Promise<T>): Promise<T> {
  const s = await setup;
  try {
    return await run(s);
  } finally {
    await s.close();
  }
}

/** Runs one scenario; a failure is reported (and makes the exit code 1) without losing the rest of the run. */
async function attempt<T>(what: string, run: () => Promise<T>): Promise<T | undefined> {
  log(`${what} ...`);
  try {
    return await run();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`  failed: ${message}`);
    report.errors.push({ scenario: what, error: message });
    return undefined;
  }
}

/** BullMQ and pg-boss, when installed and a group that measures them runs; a line says when they are skipped. */
async function peersIfInstalled(): Promise<Peers | undefined> {
  if (!args.groups.has("throughput") && !args.groups.has("latency")) return undefined;
  const skipped = peersMissing();
  if (skipped !== undefined) {
    log(`peers skipped: ${skipped}`);
    report.peers = { skipped };
    return undefined;
  }
  return attempt("peers: BullMQ and pg-boss", async () => {
    const loaded = await loadPeers(env);
    log(
      `  bullmq ${loaded.versions.bullmq} on redis-server ${loaded.versions.redisServer}, pg-boss ${loaded.versions.pgBoss}`,
    );
    report.peers = loaded.versions;
    return loaded;
  });
}

const env = await startBenchEnv();
const report: BenchReport = {
  date: new Date().toISOString(),
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    natsServer: env.natsVersion,
  },
  quick: args.quick,
  packages: PACKAGES,
  throughput: [],
  latency: [],
  scaling: [],
  payloads: [],
  errors: [],
};
const peers = await peersIfInstalled();
try {
  if (args.groups.has("throughput")) {
    for (const jobs of sizes.throughput) {
      const row = (system: string, r: Awaited<ReturnType<typeof rawJetStream>>): ThroughputRow => ({ system, ...r });
      const measure = (system: string, run: () => Promise<Awaited<ReturnType<typeof rawJetStream>>>): Promise<void> =>
        attempt(`throughput: ${system}, ${jobs} jobs`, async () => {
          const r = row(system, await run());
          log(`  ${r.jobsPerSecond} jobs/s`);
          report.throughput.push(r);
        });
      await measure("raw JetStream, job only", () => rawJetStream(env, { jobs, payloadBytes: 256, withResult: false }));
      await measure("baseline: raw JetStream, job + result", () =>
        rawJetStream(env, { jobs, payloadBytes: 256, withResult: true }),
      );
      await measure("tessera process, Postgres", () =>
        withSetup(tesseraProcess(env, { store: "postgres", workers: 1, warmup }), (s) =>
          submitAndDrain(env, s, jobs, inline256),
        ),
      );
      await measure("tessera process, Postgres, 3 coordinators", () =>
        withSetup(tesseraProcess(env, { store: "postgres", workers: 1, warmup, coordinators: 3 }), (s) =>
          submitAndDrain(env, s, jobs, inline256),
        ),
      );
      await measure("tessera process, PGlite", () =>
        withSetup(tesseraProcess(env, { store: "pglite", workers: 1, warmup }), (s) =>
          submitAndDrain(env, s, jobs, inline256),
        ),
      );
      await measure("tessera embedded (memory store)", () =>
        withSetup(tesseraEmbedded(env, { store: "memory" }), (s) => submitAndDrain(env, s, jobs, inline256)),
      );
      await measure("tessera embedded, PGlite in memory", () =>
        withSetup(tesseraEmbedded(env, { store: "pglite" }), (s) => submitAndDrain(env, s, jobs, inline256)),
      );
      await measure("tessera embedded, bus + worker only (no store)", () => embeddedBusOnly(env, jobs));
      if (peers !== undefined) {
        await measure(BULLMQ, () => peers.bullmqThroughput(jobs));
        await measure(PG_BOSS, () => peers.pgBossThroughput(jobs));
      }
    }
  }
  if (args.groups.has("latency")) {
    for (const rate of sizes.rates) {
      for (const store of ["postgres", "pglite"] as const) {
        await attempt(`latency: tessera process, ${store}, ${rate} jobs/s for ${sizes.latencySeconds} s`, async () => {
          const r = await withSetup(tesseraProcess(env, { store, workers: 1, warmup }), (s) =>
            latencyAtRate(env, s, rate, sizes.latencySeconds, inline256),
          );
          log(`  p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms`);
          report.latency.push({ system: `tessera process, ${store === "postgres" ? "Postgres" : "PGlite"}`, ...r });
        });
      }
      await attempt(`latency: tessera process, Postgres, 3 coordinators, ${rate} jobs/s`, async () => {
        const r = await withSetup(
          tesseraProcess(env, { store: "postgres", workers: 1, warmup, coordinators: 3 }),
          (s) => latencyAtRate(env, s, rate, sizes.latencySeconds, inline256),
        );
        log(`  p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms`);
        report.latency.push({ system: "tessera process, Postgres, 3 coordinators", ...r });
      });
      if (peers !== undefined) {
        await attempt(`latency: ${BULLMQ}, ${rate} jobs/s for ${sizes.latencySeconds} s`, async () => {
          const r = await peers.bullmqLatencyAtRate(rate, sizes.latencySeconds);
          log(`  p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms`);
          report.latency.push({ system: BULLMQ, ...r });
        });
      }
    }
  }
  if (args.groups.has("scaling")) {
    for (const workers of sizes.scaling) {
      await attempt(
        `scaling: tessera process, Postgres, ${workers} worker process(es), ${sizes.scalingJobs} jobs`,
        async () => {
          const r = await withSetup(tesseraProcess(env, { store: "postgres", workers, warmup }), (s) =>
            submitAndDrain(env, s, sizes.scalingJobs, inline256),
          );
          log(`  ${r.jobsPerSecond} jobs/s`);
          report.scaling.push({ workers, ...r });
        },
      );
    }
  }
  if (args.groups.has("payloads")) {
    for (const [bytesText, jobs] of Object.entries(sizes.payloadJobs)) {
      const bytes = Number(bytesText);
      // Over 64 KiB, or bytes of any size, go through the payload store: the job carries a content_ref.
      const input = bytes <= 256 ? inline256 : ((data) => (): SubmitInput => ({ bytes: data }))(payloadOf(bytes));
      await attempt(`payloads: tessera process, Postgres, ${bytes} B x ${jobs}`, async () => {
        // Large payloads go through the payload store: a few in flight at once, as an application uploading files would.
        const window = bytes > 65_536 ? 8 : undefined;
        const r = await withSetup(tesseraProcess(env, { store: "postgres", workers: 1, warmup }), (s) =>
          submitAndDrain(env, s, jobs, input, window),
        );
        log(`  ${r.jobsPerSecond} jobs/s, ${Math.round((r.jobsPerSecond * bytes) / 2 ** 20)} MiB/s`);
        report.payloads.push({ payloadBytes: bytes, byReference: bytes > 256, ...r });
      });
    }
  }
  if (args.groups.has("isolation")) {
    const { jobs, rate, seconds } = sizes.isolation;
    await attempt(
      `isolation: in-thread and handler threads, ${jobs} jobs, then ${rate} jobs/s for ${seconds} s`,
      async () => {
        report.isolation = await isolationCost(env, sizes.isolation);
        for (const r of report.isolation.rows)
          log(`  ${r.path}: ${r.jobsPerSecond} jobs/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`);
      },
    );
  }
  if (args.groups.has("gateway")) {
    const { requests, rate, seconds } = sizes.gateway;
    await attempt(
      `gateway: signed webhooks against a bare HTTP server, ${requests} requests, then ${rate} requests/s for ${seconds} s`,
      async () => {
        report.gateway = await gatewayCost(env, sizes.gateway);
        for (const r of report.gateway.rows)
          log(`  ${r.system}: ${r.jobsPerSecond} requests/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`);
      },
    );
    const seconds2 = sizes.fairnessSeconds;
    await attempt(
      `gateway fairness: one account quiet, then another bursting at 10x its rate limit, ${seconds2} s each`,
      async () => {
        const f = await gatewayFairness(env, { seconds: seconds2 });
        report.gatewayFairness = f;
        log(
          `  quiet account p99 ${f.unburdened.quiet.p99} ms alone, ${f.burdened.quiet.p99} ms beside the burst (x${f.ratio.p99})`,
        );
      },
    );
  }

  if (args.groups.has("tracing")) {
    const { jobs, passes } = sizes.tracing;
    await attempt(`tracing: off and on, embedded, ${jobs} jobs x ${passes} passes`, async () => {
      report.tracing = await tracingCost(env, inline256, sizes.tracing);
      for (const r of report.tracing.rows) log(`  pass ${r.pass} ${r.mode}: ${r.jobsPerSecond} jobs/s`);
    });
  }
} finally {
  await peers?.close();
  await env.close();
}

report.ratios = ratios(report.throughput);
await mkdir(join(here, "results"), { recursive: true });
await writeFile(
  join(here, "results", args.quick ? "latest-quick.json" : "latest.json"),
  `${JSON.stringify(report, null, 2)}\n`,
);
if (args.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
else log(renderReport(report));
if (report.errors.length > 0) process.exitCode = 1;
