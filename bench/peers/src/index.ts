/**
 * The peers the bench compares Tessera with, in the same run (docs/performance.md, Peers): BullMQ on a
 * private redis-server and pg-boss on the bench's Postgres. Loaded by bench/src/peers.ts only when
 * bench/peers is installed, since it needs this package's node_modules.
 */
import { createRequire } from "node:module";
import type { BenchEnv } from "../../src/bench-env.js";
import { redisServerVersion, type Peers } from "../../src/peers.js";
import { bullmqLatencyAtRate, bullmqThroughput } from "./bullmq.js";
import { pgBossThroughput } from "./pg-boss.js";
import { startRedisServer, type RedisServer } from "./redis-server.js";

const packageVersion = (name: string): string =>
  (createRequire(import.meta.url)(`${name}/package.json`) as { version: string }).version;

export function startPeers(env: BenchEnv): Peers {
  // One redis-server for the run, started when BullMQ is first measured (as the bench's Postgres is).
  let redis: Promise<RedisServer> | undefined;
  const redisServer = (): Promise<RedisServer> => (redis ??= startRedisServer());
  return {
    versions: {
      bullmq: packageVersion("bullmq"),
      pgBoss: packageVersion("pg-boss"),
      redisServer: redisServerVersion() ?? "not installed",
    },
    bullmqThroughput: async (jobs) => bullmqThroughput(env, await redisServer(), jobs),
    bullmqLatencyAtRate: async (rate, seconds) => bullmqLatencyAtRate(env, await redisServer(), rate, seconds),
    pgBossThroughput: (jobs) => pgBossThroughput(env, jobs),
    async close() {
      await redis?.then((r) => r.stop()).catch(() => undefined);
    },
  };
}
