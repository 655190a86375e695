/**
 * CI's smoke run of the benchmark: `npm run bench -- --quick --json` finishes and reports every section.
 * Timings are never asserted (a shared CI machine says nothing about speed); only that each system moved
 * every job and that the ratios were computed from the same run. With bench/peers installed (and
 * redis-server), BullMQ and pg-boss are part of that run; without them, the report says they were skipped.
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BULLMQ, peersMissing, PG_BOSS } from "./peers.js";
import type { BenchReport } from "./report.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function runQuickBench(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--conditions=@tessera/source", "--import", "tsx", "bench/run.ts", "--quick", "--json"],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

const skipPeers = peersMissing();
// .ci/run installs the peers, so in CI their runner cannot rot unnoticed.
if (skipPeers !== undefined && process.env["CI"] === "true")
  throw new Error(`CI runs the bench with its peers, but ${skipPeers}`);

describe("bench --quick", () => {
  it(
    `runs every scenario and prints a JSON report with the ratios to the raw baselines (peers: ${skipPeers ?? "measured"})`,
    // Every group, each starting its own servers and processes: minutes on a shared 2-core machine.
    { timeout: 300_000 },
    async () => {
      const { code, stdout, stderr } = await runQuickBench();
      expect(code, stderr).toBe(0);
      const report = JSON.parse(stdout) as BenchReport;
      expect(report.quick).toBe(true);
      expect(report.errors).toEqual([]);
      const systems = report.throughput.map((r) => r.system);
      expect(systems).toEqual([
        "raw JetStream, job only",
        "baseline: raw JetStream, job + result",
        "tessera process, Postgres",
        "tessera process, Postgres, 3 coordinators",
        "tessera process, PGlite",
        "tessera embedded (memory store)",
        "tessera embedded, PGlite in memory",
        "tessera embedded, bus + worker only (no store)",
        ...(skipPeers === undefined ? [BULLMQ, PG_BOSS] : []),
      ]);
      for (const row of report.throughput) expect(row.jobsPerSecond, row.system).toBeGreaterThan(0);
      expect(report.ratios?.find((r) => r.system === "baseline: raw JetStream, job + result")?.vsBaseline).toBe(1);
      if (skipPeers === undefined) {
        expect(report.peers).toMatchObject({
          bullmq: expect.stringMatching(/^\d+\./),
          pgBoss: expect.stringMatching(/^\d+\./),
          redisServer: expect.stringMatching(/^\d+\./),
        });
        for (const r of report.ratios ?? []) expect(r.vsBullmq, r.system).toBeGreaterThan(0);
        expect(report.ratios?.find((r) => r.system === BULLMQ)?.vsBullmq).toBe(1);
        for (const system of [BULLMQ, PG_BOSS])
          expect(report.throughput.find((r) => r.system === system)?.cpuUsPerJob?.worker, system).toBeGreaterThan(0);
        expect(report.throughput.find((r) => r.system === BULLMQ)?.cpuUsPerJob?.redis).toBeGreaterThan(0);
        expect(report.latency.filter((r) => r.system === BULLMQ).map((r) => r.offeredPerSecond)).toEqual([1_000]);
      } else {
        expect(report.peers).toEqual({ skipped: skipPeers });
      }
      expect(report.latency.length).toBeGreaterThan(0);
      expect(report.latency.map((r) => r.system)).toContain("tessera process, Postgres, 3 coordinators");
      for (const row of report.latency) {
        expect(row.count, row.system).toBe(Math.round(row.offeredPerSecond * 2));
        // Every job timed to its own completion (a replica's share waited for, not only the run's count).
        expect([row.p50, row.p99, row.max].every(Number.isFinite), row.system).toBe(true);
      }
      // Each latency row says what its jobs cost each process at that rate (Linux: read from /proc).
      for (const row of report.latency.filter((r) => r.system.startsWith("tessera process, Postgres")))
        expect(row.cpuUsPerJob, row.system).toMatchObject({
          main: expect.any(Number),
          worker: expect.any(Number),
          nats: expect.any(Number),
          postgres: expect.any(Number),
        });
      expect(report.scaling.map((r) => r.workers)).toEqual([1, 2]);
      expect(report.payloads.map((r) => r.payloadBytes)).toEqual([256, 65_536, 5_242_880]);
      expect(report.isolation?.rows.map((r) => r.path)).toEqual(["in-thread", "handler threads"]);
      for (const row of report.isolation?.rows ?? []) {
        expect(row.jobsPerSecond, row.path).toBeGreaterThan(0);
        expect(row.latency.count, row.path).toBe(200);
      }
      expect(report.isolation?.ratio?.jobsPerSecond).toBeGreaterThan(0);
      expect(report.gateway?.rows.map((r) => r.system)).toEqual([
        "bare node:http, 202",
        "gateway inbound (Standard Webhooks -> JetStream)",
      ]);
      for (const row of report.gateway?.rows ?? []) {
        expect(row.jobsPerSecond, row.system).toBeGreaterThan(0);
        expect(row.latency.count, row.system).toBe(1_000);
      }
      expect(report.gateway?.ratio?.requestsPerSecond).toBeGreaterThan(0);
      expect(report.gateway?.slo.throughputMet).toBeTypeOf("boolean");
      // Quick runs offer 2 s a phase: 40 quiet commands alone and 40 beside 400 from the noisy account.
      expect(report.gatewayFairness?.unburdened.quiet.count).toBe(40);
      expect(report.gatewayFairness?.burdened.quiet.count).toBe(40);
      expect(report.gatewayFairness?.burdened.noisy?.offered).toBe(400);
      expect(report.gatewayFairness?.burdened.noisy?.delivered).toBeGreaterThan(0);
      expect(report.gatewayFairness?.slo.met).toBeTypeOf("boolean");
      expect(report.tracing?.rows.map((r) => r.mode)).toEqual(["off", "on"]);
      const traced = report.tracing?.rows.find((r) => r.mode === "on");
      // Five spans a job (create, publish, process, Result publish, apply); the last applies may end after the flush.
      expect(traced?.spans).toBeGreaterThanOrEqual(4 * (traced?.jobs ?? 1));
      expect(report.tracing?.rows.find((r) => r.mode === "off")?.spans).toBeUndefined();
      expect(report.tracing?.noopNsPerJob).toBeGreaterThan(0);
      expect(report.tracing?.ratio?.onVsOff.jobsPerSecond).toBeGreaterThan(0);
    },
  );
});
