import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@tessera/testkit";
import { REDIS_SERVER_BIN } from "../../src/peers.js";

const READY_TIMEOUT_MS = 10_000;

export interface RedisServer {
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * A private redis-server for one bench run: a free loopback port, persistence off (no RDB snapshots, no
 * AOF: the bench measures the queue, not this VM's disk, as its Postgres runs with fsync off), in a fresh
 * temporary directory. Never the machine's own Redis (Debian's package may run one on 6379).
 */
export async function startRedisServer(): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), "tessera-redis-"));
  const port = await freePort();
  const proc = spawn(
    REDIS_SERVER_BIN,
    [
      "--bind",
      "127.0.0.1",
      "--port",
      String(port),
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
      "--protected-mode",
      "yes",
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  // A bench that exits without stop() must not leave the server behind.
  const reap = (): void => void proc.kill("SIGKILL");
  process.once("exit", reap);
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  void exited.then(() => process.off("exit", reap));
  let log = "";
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not become ready in ${READY_TIMEOUT_MS / 1000}s; its log:\n${log}`)),
        READY_TIMEOUT_MS,
      );
      const onData = (chunk: Buffer): void => {
        log += chunk.toString();
        if (log.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout.on("data", onData);
      proc.stderr.on("data", onData);
      proc.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      proc.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(`redis-server exited (${signal ?? `code ${String(code)}`}) before it was ready; its log:\n${log}`),
        );
      });
    });
  } catch (err) {
    proc.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  proc.stdout.removeAllListeners("data").resume();
  proc.stderr.removeAllListeners("data").resume();
  return {
    port,
    async stop() {
      // Nothing in it is kept: SIGKILL, as the bench's Postgres stops in immediate mode.
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
