import type { FaultRunReport } from "./driver.js";
import { KILL_KINDS, type KillCounts } from "./schedule.js";

/** The report as the JSON the brief asks for: the headline counts first, the details after. */
export function reportJson(r: FaultRunReport): Record<string, unknown> {
  return {
    jobs: r.jobs,
    kills: r.kills,
    lost: r.lost,
    duplicateCompleted: r.duplicateCompleted,
    sideEffectsAppliedTwice: r.sideEffectsAppliedTwice,
    reExecutions: r.reExecutions,
    durationMs: r.durationMs,
    ok: r.verdict.ok,
    seed: r.seed,
    workers: r.workers,
    concurrency: r.concurrency,
    coordinators: r.coordinators,
    ...(r.limits !== undefined ? { limits: r.limits } : {}),
    planned: r.planned,
    unreachable: r.unreachable,
    restarts: r.restarts,
    submit: r.submit,
    timedOut: r.timedOut,
    machine: r.machine,
    verdict: r.verdict,
    ...(r.runDir !== undefined ? { runDir: r.runDir } : {}),
  };
}

function killLine(k: KillCounts): string {
  return KILL_KINDS.map((kind) => `${kind} ${k[kind]}`).join(", ");
}

/** A plain two-column table for a terminal. */
export function reportTable(r: FaultRunReport): string {
  const v = r.verdict;
  const rows: Array<[string, string]> = [
    ["verdict", v.ok ? "PASS" : `FAIL: ${v.problems.join("; ")}`],
    ["jobs", String(r.jobs)],
    ["seed", String(r.seed)],
    ["duration", `${(r.durationMs / 1000).toFixed(1)} s${r.timedOut ? " (timed out)" : ""}`],
    [
      "processes",
      `${r.coordinators === 1 ? "coordinator" : `${r.coordinators} coordinators on one Postgres`} + ${r.workers} workers x ${r.concurrency}`,
    ],
    [
      "kills (SIGKILL; a rolling restart is SIGTERM)",
      `${Object.values(r.kills).reduce((a, b) => a + b, 0)}: ${killLine(r.kills)}`,
    ],
    ...(Object.values(r.unreachable).some((n) => n > 0)
      ? ([
          [
            "kills not made, every job had run",
            `${Object.values(r.unreachable).reduce((a, b) => a + b, 0)}: ${killLine(r.unreachable)}`,
          ],
        ] as Array<[string, string]>)
      : []),
    [
      "restarts",
      `coordinator ${r.restarts.coordinator}, workers ${r.restarts.workers}, failed starts ${r.restarts.failedStarts}`,
    ],
    ["lost", String(r.lost)],
    ...(r.limits !== undefined
      ? ([
          [
            "per-key limits",
            `${r.limits.keys} keys, peak concurrency ${r.limits.peakConcurrency}, worst rate ${r.limits.worstRateRatio}x of the bound, keys with open jobs ${r.limits.keysWithOpenJobs}`,
          ],
        ] as Array<[string, string]>)
      : []),
    ["completed / failed", `${v.completed} / ${v.failed}${v.failed > 0 ? ` ${JSON.stringify(v.failedByReason)}` : ""}`],
    [
      "duplicate completed Results",
      `${v.duplicateCompleted} (on the bus ${v.duplicateCompletedOnBus}, recorded twice ${v.duplicateCompletedRecorded})`,
    ],
    ["duplicate Results ignored by the coordinator", String(v.duplicateResultsIgnored)],
    ["side effects applied twice (idempotent by key)", String(v.sideEffectsAppliedTwice)],
    ["side effects missing", String(v.sideEffectsMissing)],
    ["re-executions", `${v.reExecutions} (${v.jobsReExecuted} jobs ran more than once; ${v.executions} handler runs)`],
    ["same effect without a key: applied twice", String(v.naiveDuplicateEffects)],
    [
      "submits",
      `${r.submit.attempts} attempts, ${r.submit.retries} retried, ${r.submit.deduplicated} answered by the idempotency key, ${r.submit.refused} refused`,
    ],
    ["duplicate submits", String(v.duplicateSubmits)],
    [
      "machine",
      `${r.machine.cpus} x ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}, nats-server ${r.machine.natsServer}, Postgres ${r.machine.postgres}`,
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, val]) => `${k.padEnd(width)}  ${val}`);
  if (v.lostJobs.length > 0)
    lines.push("", "lost jobs (first 20):", ...v.lostJobs.map((j) => `  ${j.key} ${j.jobId ?? ""} ${j.why}`));
  return lines.join("\n");
}
