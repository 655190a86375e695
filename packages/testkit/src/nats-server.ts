import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface NatsServerHandle {
  /** `nats://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** `127.0.0.1:<port>` of the HTTP monitoring endpoint (KEDA's form: no scheme). */
  monitoringHostPort: string;
  storeDir: string;
  version: string;
  /** SIGKILL the server and start it again on the same port and store dir. */
  restart(): Promise<void>;
  /** SIGKILL the server, leaving the store dir, without starting it again. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr !== null ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

const BINARY = process.env["NATS_SERVER_BIN"] ?? "nats-server";

/**
 * Starts `nats-server -js` on free loopback ports with a temporary file store. Each suite gets its own
 * server; nothing is shared with other processes on the machine.
 */
export async function startNatsServer(opts: { debug?: boolean } = {}): Promise<NatsServerHandle> {
  const storeDir = await mkdtemp(join(tmpdir(), "tessera-nats-"));
  const port = await freePort();
  const httpPort = await freePort();
  const conf = join(storeDir, "nats.conf");
  await writeFile(
    conf,
    [
      `listen: 127.0.0.1:${port}`,
      `http: 127.0.0.1:${httpPort}`,
      `jetstream {`,
      `  store_dir: ${JSON.stringify(join(storeDir, "js"))}`,
      `  max_memory_store: 256MB`,
      `  max_file_store: 2GB`,
      `}`,
      `max_payload: 8MB`,
    ].join("\n"),
  );
  let child: ChildProcess | undefined;
  let version = "";

  const start = async (): Promise<void> => {
    const proc = spawn(BINARY, ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    // A test process that exits without stop() (a timeout, a crash) must not leave the server behind.
    const reap = (): void => void proc.kill("SIGKILL");
    process.once("exit", reap);
    proc.once("exit", () => process.off("exit", reap));
    let log = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server did not become ready in 10s:\n${log}`)), 10_000);
      const onData = (chunk: Buffer): void => {
        log += chunk.toString();
        if (opts.debug === true) process.stderr.write(chunk);
        const v = /Version:\s+(\S+)/.exec(log);
        if (v?.[1] !== undefined) version = v[1];
        if (log.includes("Server is ready")) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on("data", onData);
      proc.stderr?.on("data", onData);
      proc.once("error", (err) => {
        clearTimeout(timer);
        reject(
          (err as NodeJS.ErrnoException).code === "ENOENT"
            ? new Error(`nats-server is not installed (looked for ${BINARY}). Install it with: apt-get install -y nats-server`)
            : err,
        );
      });
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with ${String(code)} before it was ready:\n${log}`));
      });
    });
    proc.removeAllListeners("exit");
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once("exit", () => resolve());
      proc.kill("SIGKILL");
    });
  };

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitoringHostPort: `127.0.0.1:${httpPort}`,
    storeDir,
    get version() {
      return version;
    },
    start,
    kill,
    restart: async () => {
      await kill();
      await start();
    },
    stop: async () => {
      await kill();
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}
