/**
 * The long fault run (`npm run faults` at the repository root):
 *
 *   node --conditions=@tessera/source --import tsx faults/run.ts --jobs 10000 --seed 7 [--json]
 *
 * Options: --jobs N (default 10000), --seed N (default: from the clock, printed), --workers N (3),
 * --concurrency N (4 per worker), --kills kind=N,... (default: scaled to --jobs, see defaultKills),
 * --ack-wait-ms N (2000), --coordinator-ack-wait-ms N (default: the product's 30 s), --timeout-ms N
 * (30 min), --nats-down-ms MIN-MAX (200-3000), --keep-dir, --json (print the report as JSON instead of the table).
 *
 * The replicas topology: --coordinators N (default 1) coordinator processes on the one Postgres, with
 * per-key limits (--limits JSON, default with replicas {"key":"tenant","concurrency":2,"rate":{"limit":10,
 * "intervalMs":1000}}; "none" for none) over --tenants N keys (20); its default kills add lease-holder kills
 * and one rolling restart of every coordinator.
 *
 * Exit code 0 when the audit passed; 1 when any job was lost or duplicated (or another check failed);
 * 2 for bad arguments.
 */
import { parseArgs } from "node:util";
import type { KeyLimits } from "@tessera/coordinator";
import { runFaults } from "./src/driver.js";
import { reportJson, reportTable } from "./src/report.js";
import { KILL_KINDS, type KillCounts } from "./src/schedule.js";

/**
 * Kills per run: per 1,000 jobs 3 worker, 3 mid-handler, 1 coordinator, 1 of each relay point, 1 nats (at
 * least 1 each); with several coordinators also 1 lease holder per 1,000 jobs and one rolling restart.
 */
export function defaultKills(jobs: number, coordinators = 1): KillCounts {
  const per = (n: number): number => Math.max(1, Math.round((n * jobs) / 1_000));
  return {
    worker: per(3),
    midHandler: per(3),
    coordinator: per(1),
    commitBeforePublish: per(1),
    publishBeforeMark: per(1),
    nats: per(1),
    leaseHolder: coordinators > 1 ? per(1) : 0,
    rollingRestart: coordinators > 1 ? 1 : 0,
  };
}

const REPLICA_LIMITS: KeyLimits = { key: "tenant", concurrency: 2, rate: { limit: 10, intervalMs: 1_000 } };

function usage(message: string): never {
  process.stderr.write(`faults: ${message}\n`);
  process.exit(2);
}

function int(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) usage(`--${name}: expected a non-negative integer, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

function parseKills(raw: string | undefined, jobs: number, coordinators: number): KillCounts {
  const kills = defaultKills(jobs, coordinators);
  if (raw === undefined) return kills;
  for (const part of raw.split(",")) {
    const [kind, n] = part.split("=");
    if (!(KILL_KINDS as readonly string[]).includes(kind ?? ""))
      usage(`--kills: unknown kind ${JSON.stringify(kind)}; kinds: ${KILL_KINDS.join(", ")}`);
    kills[kind as keyof KillCounts] = int(`kills ${kind}`, n, 0);
  }
  return kills;
}

const { values } = parseArgs({
  options: {
    jobs: { type: "string" },
    seed: { type: "string" },
    workers: { type: "string" },
    concurrency: { type: "string" },
    kills: { type: "string" },
    "ack-wait-ms": { type: "string" },
    "coordinator-ack-wait-ms": { type: "string" },
    "timeout-ms": { type: "string" },
    "nats-down-ms": { type: "string" },
    "keep-dir": { type: "boolean" },
    coordinators: { type: "string" },
    limits: { type: "string" },
    tenants: { type: "string" },
    json: { type: "boolean" },
  },
  strict: true,
});

const jobs = int("jobs", values.jobs, 10_000);
const seed = int("seed", values.seed, Date.now() % 1_000_000);
const coordinatorAckWaitMs =
  values["coordinator-ack-wait-ms"] === undefined
    ? undefined
    : int("coordinator-ack-wait-ms", values["coordinator-ack-wait-ms"], 30_000);
const natsDown = values["nats-down-ms"]?.split("-").map((v) => int("nats-down-ms", v, 0));
if (natsDown !== undefined && natsDown.length !== 2)
  usage(`--nats-down-ms: expected MIN-MAX, got ${JSON.stringify(values["nats-down-ms"])}`);
const coordinators = int("coordinators", values.coordinators, 1);
if (coordinators < 1) usage("--coordinators: expected at least 1");
function parseLimits(raw: string | undefined): KeyLimits | undefined {
  if (raw === "none") return undefined;
  if (raw === undefined) return coordinators > 1 ? REPLICA_LIMITS : undefined;
  try {
    return JSON.parse(raw) as KeyLimits;
  } catch {
    return usage(
      `--limits: expected JSON such as ${JSON.stringify(REPLICA_LIMITS)} or "none", got ${JSON.stringify(raw)}`,
    );
  }
}
const limits = parseLimits(values.limits);
const report = await runFaults({
  jobs,
  seed,
  kills: parseKills(values.kills, jobs, coordinators),
  coordinators,
  ...(limits !== undefined ? { limits } : {}),
  tenants: int("tenants", values.tenants, 20),
  workers: int("workers", values.workers, 3),
  concurrency: int("concurrency", values.concurrency, 4),
  ackWaitMs: int("ack-wait-ms", values["ack-wait-ms"], 2_000),
  ...(coordinatorAckWaitMs !== undefined ? { coordinatorAckWaitMs } : {}),
  ...(natsDown !== undefined ? { natsDownMs: [natsDown[0] as number, natsDown[1] as number] as const } : {}),
  timeoutMs: int("timeout-ms", values["timeout-ms"], 30 * 60_000),
  keepDir: values["keep-dir"] === true,
  log: (line) => process.stderr.write(`[faults] ${line}\n`),
});
process.stdout.write(
  values.json === true ? `${JSON.stringify(reportJson(report), null, 2)}\n` : `${reportTable(report)}\n`,
);
process.exit(report.verdict.ok ? 0 : 1);
