import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.js";

export interface LocalNatsServerOptions {
  /** JetStream's file store and the generated config. Default: a fresh temporary directory, removed by stop(). */
  storeDir?: string;
  /** Address both listeners bind. Default 127.0.0.1: a dev server is not for the network. */
  host?: string;
  /** Client port. Default: a free one. */
  port?: number;
  /** HTTP monitoring port (what KEDA's nats-jetstream scaler reads). Default: a free one. */
  monitorPort?: number;
  /** The executable. Default `$NATS_SERVER_BIN`, else `nats-server` on the PATH. */
  binary?: string;
  /** Receives the server's log output as it arrives. */
  onLog?: (text: string) => void;
}

export interface LocalNatsServer {
  /** `nats://<host>:<port>` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly monitorPort: number;
  /** `http://<host>:<monitorPort>` */
  readonly monitorUrl: string;
  readonly storeDir: string;
  /** The server's version, from its startup log. */
  readonly version: string;
  /** Starts the server again (after kill()) on the same ports and store. */
  start(): Promise<void>;
  /** SIGKILLs the server (a crash), keeping the store. */
  kill(): Promise<void>;
  /** kill() then start(): a crash and a restart with the same store. */
  restart(): Promise<void>;
  /** Shuts the server down cleanly and removes the store if this launcher created it. */
  stop(): Promise<void>;
}

/** `nats-server` could not be run because it is not installed (or not where `binary` said). */
export class NatsServerNotInstalledError extends Error {
  constructor(readonly binary: string) {
    super(
      `nats-server is not installed (looked for ${JSON.stringify(binary)}). Install it with \`apt-get install -y nats-server\` (Debian/Ubuntu) ` +
        "or from the official releases (https://github.com/nats-io/nats-server/releases), then put it on the PATH or set NATS_SERVER_BIN to its path",
    );
    this.name = "NatsServerNotInstalledError";
  }
}

const READY_TIMEOUT_MS = 10_000;
/** A clean shutdown flushes JetStream; past this the server is killed rather than waited for. */
const STOP_TIMEOUT_MS = 5_000;

/**
 * Starts `nats-server` with JetStream on loopback, for `tessera dev` and for the test suites. Resolves
 * once the server logs that it is ready. The server dies with this process.
 */
export async function startLocalNatsServer(opts: LocalNatsServerOptions = {}): Promise<LocalNatsServer> {
  const host = opts.host ?? "127.0.0.1";
  const binary = opts.binary ?? process.env["NATS_SERVER_BIN"] ?? "nats-server";
  const ownsStore = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? (await mkdtemp(join(tmpdir(), "tessera-nats-")));
  if (!ownsStore) await mkdir(storeDir, { recursive: true });
  const port = opts.port ?? (await freePort(host));
  const monitorPort = opts.monitorPort ?? (await freePort(host));
  const hostPort = (p: number): string => `${host.includes(":") ? `[${host}]` : host}:${p}`;
  const conf = join(storeDir, "nats.conf");
  await writeFile(
    conf,
    [
      `listen: ${JSON.stringify(hostPort(port))}`,
      `http: ${JSON.stringify(hostPort(monitorPort))}`,
      `jetstream {`,
      `  store_dir: ${JSON.stringify(storeDir)}`,
      `  max_memory_store: 256MB`,
      `  max_file_store: 2GB`,
      `}`,
      // Payloads up to the contract's inline limits plus envelope overhead travel in one message.
      `max_payload: 8MB`,
    ].join("\n"),
  );

  let child: ChildProcess | undefined;
  let version = "";

  const start = async (): Promise<void> => {
    const proc = spawn(binary, ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    // A parent that exits without stop() (a crash, a test timeout) must not leave the server behind.
    const reap = (): void => void proc.kill("SIGKILL");
    process.once("exit", reap);
    proc.once("exit", () => process.off("exit", reap));
    // The log is kept only until the server is ready: enough to explain a failed start.
    let log: string | undefined = "";
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`nats-server did not become ready in ${READY_TIMEOUT_MS / 1000}s; its log:\n${log}`)),
          READY_TIMEOUT_MS,
        );
        const onData = (chunk: Buffer): void => {
          const text = chunk.toString();
          opts.onLog?.(text);
          if (log === undefined) return;
          log += text;
          const v = /Version:\s+(\S+)/.exec(log);
          if (v?.[1] !== undefined) version = v[1];
          if (log.includes("Server is ready")) {
            clearTimeout(timer);
            log = undefined;
            resolve();
          }
        };
        proc.stdout?.on("data", onData);
        proc.stderr?.on("data", onData);
        proc.once("error", (err) => {
          clearTimeout(timer);
          reject((err as NodeJS.ErrnoException).code === "ENOENT" ? new NatsServerNotInstalledError(binary) : err);
        });
        proc.once("exit", (code, signal) => {
          clearTimeout(timer);
          reject(
            new Error(`nats-server exited (${signal ?? `code ${String(code)}`}) before it was ready; its log:\n${log}`),
          );
        });
      });
    } catch (err) {
      proc.kill("SIGKILL");
      throw err;
    }
  };

  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = signal === "SIGKILL" ? undefined : setTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
      proc.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      proc.kill(signal);
    });
  };

  const kill = (): Promise<void> => end("SIGKILL");

  try {
    await start();
  } catch (err) {
    if (ownsStore) await rm(storeDir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `nats://${hostPort(port)}`,
    host,
    port,
    monitorPort,
    monitorUrl: `http://${hostPort(monitorPort)}`,
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
      await end("SIGTERM");
      if (ownsStore) await rm(storeDir, { recursive: true, force: true });
    },
  };
}
