import type { GatewayReport } from "./gateway.js";
import type { FairnessReport } from "./gateway-fairness.js";
import type { IsolationReport } from "./isolation.js";
import type { TracingReport } from "./tracing.js";
import type { LatencyResult } from "./open-loop.js";
import { BULLMQ } from "./peers.js";
import { round } from "./stats.js";
import type { CpuByRole, Role } from "./process-cpu.js";
import type { ThroughputResult } from "./throughput.js";

export interface ThroughputRow extends ThroughputResult {
  system: string;
}

export interface BenchReport {
  date: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; natsServer: string };
  /** The Tessera code measured: compiled `dist/` (`npm run bench`) or the sources through tsx (tests, smoke run). */
  packages: "source" | "built";
  quick: boolean;
  throughput: ThroughputRow[];
  latency: Array<LatencyResult & { system: string }>;
  scaling: Array<ThroughputResult & { workers: number }>;
  payloads: Array<ThroughputResult & { payloadBytes: number; byReference: boolean }>;
  /** What running handlers in handler threads costs per job, against the in-thread path (when measured). */
  isolation?: IsolationReport;
  /** The gateway's inbound server against a bare HTTP server, and issue 20's SLO judged on them (when measured). */
  gateway?: GatewayReport;
  /** One account bursting past its rate limit beside a quiet one: the quiet one's outbound latency, alone and beside it. */
  gatewayFairness?: FairnessReport;
  /** What tracing costs: no SDK against an SDK registered, in the same run (when measured). */
  tracing?: TracingReport;
  /** The peers' versions, or why they were not measured (bench/peers not installed, no redis-server). */
  peers?: { bullmq: string; pgBoss: string; redisServer: string } | { skipped: string };
  ratios?: RatioRow[];
  /** Scenarios that failed; the run goes on without them (and exits 1). */
  errors: Array<{ scenario: string; error: string }>;
}

export interface RatioRow {
  jobs: number;
  system: string;
  jobsPerSecond: number;
  /** This system's rate divided by the baseline's (job + result), from the same run. */
  vsBaseline: number;
  /** Divided by raw job-only JetStream's, from the same run. */
  vsRawJobOnly: number;
  /** Divided by BullMQ's, from the same run (when the peers were measured). */
  vsBullmq?: number;
}

const RAW = "raw JetStream, job only";
const BASELINE = "baseline: raw JetStream, job + result";

/**
 * Ratios of every throughput row to the two raw loops, and to BullMQ when it was measured, at the same job
 * count in the same run.
 */
export function ratios(rows: readonly ThroughputRow[]): RatioRow[] {
  const out: RatioRow[] = [];
  for (const row of rows) {
    const at = (system: string): ThroughputRow | undefined =>
      rows.find((r) => r.system === system && r.jobs === row.jobs);
    const raw = at(RAW);
    const baseline = at(BASELINE);
    const bullmq = at(BULLMQ);
    if (raw === undefined || baseline === undefined) continue;
    out.push({
      jobs: row.jobs,
      system: row.system,
      jobsPerSecond: row.jobsPerSecond,
      vsBaseline: round(row.jobsPerSecond / baseline.jobsPerSecond),
      vsRawJobOnly: round(row.jobsPerSecond / raw.jobsPerSecond),
      ...(bullmq !== undefined ? { vsBullmq: round(row.jobsPerSecond / bullmq.jobsPerSecond) } : {}),
    });
  }
  return out;
}

function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]): string =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join("  ");
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

export function renderReport(report: BenchReport): string {
  const parts = [
    `tessera bench ${report.date} (${report.machine.cpus} cpus, node ${report.machine.node}, nats-server ${report.machine.natsServer}, ${report.packages === "built" ? "built packages" : "package sources through tsx"}${report.quick ? ", --quick" : ""})`,
  ];
  // Skipped peers were reported as the run began (and are in the JSON).
  const peers = report.peers !== undefined && !("skipped" in report.peers) ? report.peers : undefined;
  if (peers !== undefined)
    parts.push(`peers: bullmq ${peers.bullmq} on redis-server ${peers.redisServer}, pg-boss ${peers.pgBoss}`);
  if (report.throughput.length > 0) {
    const rows = ratios(report.throughput);
    const withBullmq = rows.some((r) => r.vsBullmq !== undefined);
    parts.push(
      "",
      `throughput (no-op handler, 256 B, submit -> Result recorded${peers !== undefined ? "; peers: add -> completion seen by the producer" : ""})`,
    );
    parts.push(
      table(
        ["system", "jobs", "jobs/s", "x baseline", "x raw job-only", ...(withBullmq ? ["x bullmq"] : [])],
        rows.map((r) => [
          r.system,
          r.jobs,
          r.jobsPerSecond,
          r.vsBaseline,
          r.vsRawJobOnly,
          ...(withBullmq ? [r.vsBullmq ?? "-"] : []),
        ]),
      ),
    );
  }
  const withCpu = report.throughput.filter((r) => r.cpuUsPerJob !== undefined);
  if (withCpu.length > 0) {
    parts.push("", "CPU per job, microseconds, by process (main = the producer or the coordinators)");
    const roles = cpuRoles(withCpu);
    parts.push(
      table(
        ["system", "jobs", ...roles.map(([, header]) => header), "total"],
        withCpu.map((r) => [r.system, r.jobs, ...cpuCells(roles, r.cpuUsPerJob)]),
      ),
    );
  }
  if (report.latency.length > 0) {
    parts.push(
      "",
      `latency, submit -> Result recorded (ms${report.latency.some((r) => r.system === BULLMQ) ? "; bullmq: add -> completed event seen by the producer" : ""}; CPU: microseconds per job by process over the run)`,
    );
    const latencyRoles = cpuRoles(report.latency);
    parts.push(
      table(
        [
          ...["system", "offered/s", "achieved/s", "p50", "p99", "max"],
          ...(latencyRoles.length > 0 ? [...latencyRoles.map(([, h]) => `CPU ${h}`), "CPU total"] : []),
        ],
        report.latency.map((r) => [
          r.system,
          r.offeredPerSecond,
          r.achievedPerSecond,
          r.p50,
          r.p99,
          r.max,
          ...cpuCells(latencyRoles, r.cpuUsPerJob),
        ]),
      ),
    );
  }
  if (report.scaling.length > 0) {
    parts.push("", "scaling (process mode, Postgres)");
    parts.push(
      table(
        ["worker processes", "jobs", "jobs/s"],
        report.scaling.map((r) => [r.workers, r.jobs, r.jobsPerSecond]),
      ),
    );
  }
  if (report.payloads.length > 0) {
    parts.push("", "payload size (process mode, Postgres)");
    parts.push(
      table(
        ["payload", "by reference", "jobs", "jobs/s", "MiB/s"],
        report.payloads.map((r) => [
          `${r.payloadBytes} B`,
          r.byReference ? "yes" : "no",
          r.jobs,
          r.jobsPerSecond,
          round((r.jobsPerSecond * r.payloadBytes) / 2 ** 20, 1),
        ]),
      ),
    );
  }
  if (report.isolation !== undefined) parts.push("", ...renderIsolation(report.isolation));
  if (report.gateway !== undefined) parts.push("", ...renderGateway(report.gateway));
  if (report.gatewayFairness !== undefined) parts.push("", ...renderFairness(report.gatewayFairness));
  if (report.tracing !== undefined) parts.push("", ...renderTracing(report.tracing));
  if (report.errors.length > 0)
    parts.push("", "failed scenarios", ...report.errors.map((e) => `  ${e.scenario}: ${e.error}`));
  return parts.join("\n");
}

function renderIsolation(isolation: IsolationReport): string[] {
  const lines = [
    "handler isolation (embedded bus + worker, no-op handler, same concurrency; latency: publish -> Result seen)",
    table(
      ["path", "concurrency", "jobs", "jobs/s", "CPU us/job", "offered/s", "p50", "p99", "max", "start ms", "RSS MiB"],
      isolation.rows.map((r) => [
        r.path,
        r.concurrency,
        r.jobs,
        r.jobsPerSecond,
        r.cpuUsPerJob?.main ?? "-",
        r.latency.offeredPerSecond,
        r.latency.p50,
        r.latency.p99,
        r.latency.max,
        r.startMs,
        r.rssMiB,
      ]),
    ),
  ];
  const ratio = isolation.ratio;
  if (ratio !== undefined)
    lines.push(
      `handler threads / in-thread: jobs/s x${ratio.jobsPerSecond}, CPU per job x${ratio.cpuUsPerJob ?? "-"}, p50 x${ratio.p50}, p99 x${ratio.p99}`,
    );
  return lines;
}

function renderGateway(gateway: GatewayReport): string[] {
  const lines = [
    "gateway inbound (signed Standard Webhooks posts from the bench process; latency: request -> response)",
    table(
      ["system", "connections", "requests", "requests/s", "CPU us/req (server)", "offered/s", "p50", "p99", "max"],
      gateway.rows.map((r) => [
        r.system,
        r.connections,
        r.jobs,
        r.jobsPerSecond,
        r.cpuUsPerJob?.worker ?? "-",
        r.latency.offeredPerSecond,
        r.latency.p50,
        r.latency.p99,
        r.latency.max,
      ]),
    ),
  ];
  const { ratio, slo } = gateway;
  if (ratio !== undefined)
    lines.push(
      `gateway / bare: requests/s x${ratio.requestsPerSecond}, p50 x${ratio.p50}, p99 x${ratio.p99}; SLO (>= x${slo.minThroughputRatio}, p99 < ${slo.maxP99Ms} ms at ${slo.atRate}/s): throughput ${slo.throughputMet === true ? "met" : "missed"}, p99 ${slo.p99Met === undefined ? "not measured at that rate" : slo.p99Met ? "met" : "missed"}`,
    );
  return lines;
}

function renderFairness(f: FairnessReport): string[] {
  const row = (phase: string, p: FairnessReport["burdened"]) => [
    phase,
    p.quiet.sent,
    p.quiet.p50,
    p.quiet.p99,
    p.quiet.max,
    p.noisy === undefined ? "-" : `${p.noisy.offered} offered, ${p.noisy.deliveredPerSecond}/s delivered`,
  ];
  return [
    `gateway fairness (one sender pool, shared buckets; quiet account ${f.quiet.offeredPerSecond}/s under its ${f.quiet.limit.perSecond}/s limit; noisy account ${f.noisy.offeredPerSecond}/s against its ${f.noisy.limit.perSecond}/s; latency: publish -> platform)`,
    table(
      ["phase", "quiet sent", "quiet p50", "quiet p99", "quiet max", "noisy account"],
      [row("quiet alone", f.unburdened), row("beside the burst", f.burdened)],
    ),
    `beside / alone: p50 x${f.ratio.p50}, p99 x${f.ratio.p99}; SLO (p99 within x${f.slo.maxP99Ratio}): ${f.slo.met ? "met" : "missed"}`,
  ];
}

function renderTracing(tracing: TracingReport): string[] {
  const lines = [
    "tracing (embedded, memory store, no-op handler; off: no SDK; on: SDK with a batch processor, export discarded)",
    table(
      ["pass", "tracing", "jobs", "jobs/s", "CPU us/job", "spans"],
      tracing.rows.map((r) => [r.pass, r.mode, r.jobs, r.jobsPerSecond, r.cpuUsPerJob?.main ?? "-", r.spans ?? "-"]),
    ),
    `tracing off: the API's no-op calls of one job take ${tracing.noopNsPerJob} ns`,
  ];
  const ratio = tracing.ratio;
  if (ratio !== undefined)
    lines.push(
      `on / off (medians): jobs/s x${ratio.onVsOff.jobsPerSecond}, CPU per job x${ratio.onVsOff.cpuUsPerJob ?? "-"}; off's no-op calls are ${ratio.offNoopShareOfCpu !== undefined ? `${round(ratio.offNoopShareOfCpu * 100, 3)} %` : "-"} of an off job's CPU`,
    );
  return lines;
}

/** The CPU columns of rows that carry CPU by role; redis-server only when the peers were measured. */
function cpuRoles(rows: ReadonlyArray<{ cpuUsPerJob?: CpuByRole }>): Array<[Role, string]> {
  const roles: Array<[Role, string]> = [
    ["main", "main"],
    ["worker", "worker"],
    ["nats", "nats-server"],
    ["postgres", "postgres"],
  ];
  if (rows.some((r) => r.cpuUsPerJob?.redis !== undefined)) roles.push(["redis", "redis-server"]);
  return rows.some((r) => r.cpuUsPerJob !== undefined) ? roles : [];
}

/** One row's cells for `roles`, then their total ("-" where not measured). */
function cpuCells(roles: Array<[Role, string]>, cpu: CpuByRole | undefined): Array<number | string> {
  if (roles.length === 0) return [];
  if (cpu === undefined) return [...roles.map(() => "-"), "-"];
  return [...roles.map(([role]) => cpu[role] ?? "-"), Object.values(cpu).reduce((a, b) => a + (b ?? 0), 0)];
}
