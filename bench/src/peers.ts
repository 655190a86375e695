/**
 * BullMQ and pg-boss measured in the same run as Tessera (docs/performance.md, Peers). They live in
 * bench/peers, a package of its own that is not a workspace (the product's lockfile does not carry them),
 * installed on demand; without it, or without redis-server, the bench says so once and goes on.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BenchEnv } from "./bench-env.js";
import type { LatencyResult } from "./open-loop.js";
import type { ThroughputResult } from "./throughput.js";

export const BULLMQ = "bullmq (Redis)";
export const PG_BOSS = "pg-boss (Postgres)";

const peersDir = join(dirname(fileURLToPath(import.meta.url)), "..", "peers");
const PACKAGES = ["bullmq", "ioredis", "pg-boss"];
/** `$REDIS_SERVER_BIN`, else `redis-server` on the PATH (Debian's package puts it in /usr/bin). */
export const REDIS_SERVER_BIN = process.env["REDIS_SERVER_BIN"] ?? "redis-server";

/** `redis-server --version`, or undefined when it cannot be run. */
export function redisServerVersion(): string | undefined {
  const out = spawnSync(REDIS_SERVER_BIN, ["--version"], { encoding: "utf8" });
  if (out.status !== 0) return undefined;
  return /v=(\S+)/.exec(out.stdout)?.[1] ?? out.stdout.trim();
}

/** What bench/peers/src/index.ts provides (declared here so the bench type-checks without the peers installed). */
export interface Peers {
  readonly versions: { bullmq: string; pgBoss: string; redisServer: string };
  bullmqThroughput(jobs: number): Promise<ThroughputResult>;
  bullmqLatencyAtRate(rate: number, seconds: number): Promise<LatencyResult>;
  pgBossThroughput(jobs: number): Promise<ThroughputResult>;
  /** Stops the redis-server, if one was started. */
  close(): Promise<void>;
}

/** Why the peers cannot be measured here, with how to install what is missing; undefined when they can. */
export function peersMissing(): string | undefined {
  const missing = PACKAGES.filter((p) => !existsSync(join(peersDir, "node_modules", p, "package.json")));
  if (missing.length > 0) return `bench/peers is not installed (no ${missing.join(", ")}): npm run bench:peers:install`;
  if (redisServerVersion() === undefined)
    return `${REDIS_SERVER_BIN} cannot be run: apt-get install -y redis-server (or set REDIS_SERVER_BIN)`;
  return undefined;
}

/** Loads bench/peers/src (call only when `peersMissing()` said nothing is missing). */
export async function loadPeers(env: BenchEnv): Promise<Peers> {
  // Not a literal specifier: the root project type-checks without the peers' packages.
  const entry = pathToFileURL(join(peersDir, "src", "index.ts")).href;
  const { startPeers } = (await import(entry)) as { startPeers(env: BenchEnv): Peers };
  return startPeers(env);
}
