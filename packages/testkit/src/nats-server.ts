import { startLocalNatsServer } from "@tessera/bus";

export { freePort } from "@tessera/bus";

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

/**
 * Starts `nats-server -js` on free loopback ports with a temporary file store (the product's
 * startLocalNatsServer). Each suite gets its own server; nothing is shared with other processes on the
 * machine. `debug` copies the server's log to stderr.
 */
export async function startNatsServer(opts: { debug?: boolean } = {}): Promise<NatsServerHandle> {
  const server = await startLocalNatsServer(opts.debug === true ? { onLog: (text) => process.stderr.write(text) } : {});
  return {
    url: server.url,
    port: server.port,
    monitoringHostPort: `${server.host}:${server.monitorPort}`,
    storeDir: server.storeDir,
    get version() {
      return server.version;
    },
    restart: server.restart,
    kill: server.kill,
    start: server.start,
    stop: server.stop,
  };
}
