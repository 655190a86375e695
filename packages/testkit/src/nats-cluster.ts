import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectJetStreamBus, freePort } from "@tessera/bus";

export interface NatsClusterHandle {
  /** One client URL per node, `nats://127.0.0.1:<port>`, in node order (server names n0, n1, n2). */
  urls: string[];
  /** Each node's HTTP monitoring port (127.0.0.1), in node order. */
  monitorPorts: number[];
  /** Server names, in node order: what JetStream reports as a stream's leader and replicas. */
  names: string[];
  /** SIGKILL node `i` (no goodbye to its peers or clients); its store stays. */
  kill(i: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A three-node JetStream cluster on loopback (JetStream needs a quorum, so one node is not enough), with
 * `nats-server` from `$NATS_SERVER_BIN` (as startNatsServer) or the PATH. Resolves once a metadata leader
 * is known to every node and an R3 stream can be placed, so each answers JetStream requests.
 */
export async function startNatsCluster(): Promise<NatsClusterHandle> {
  // A free port can be taken by another process before the node binds it (nine of them here, on a machine
  // other suites share): start again on fresh ports rather than fail.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce();
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test((err as Error).message)) throw err;
    }
  }
}

/** Nine distinct free ports: freePort alone may hand out the same one twice (it closes what it probed). */
async function distinctPorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort("127.0.0.1"));
  return [...ports];
}

async function startOnce(): Promise<NatsClusterHandle> {
  const dir = await mkdtemp(join(tmpdir(), "tessera-cluster-"));
  const free = await distinctPorts(9);
  const nodes = [0, 1, 2].map((i) => ({
    port: free[3 * i] as number,
    route: free[3 * i + 1] as number,
    monitor: free[3 * i + 2] as number,
  }));
  const routes = nodes.map((n) => `"nats://127.0.0.1:${n.route}"`).join(", ");
  const children: ChildProcess[] = [];
  const ready = nodes.map(async (node, i) => {
    const conf = join(dir, `n${i}.conf`);
    await writeFile(
      conf,
      [
        `server_name: n${i}`,
        `listen: "127.0.0.1:${node.port}"`,
        `http: "127.0.0.1:${node.monitor}"`,
        `jetstream { store_dir: ${JSON.stringify(join(dir, `n${i}`))} }`,
        `cluster { name: tessera-test, listen: "127.0.0.1:${node.route}", routes: [${routes}] }`,
      ].join("\n"),
    );
    const child = spawn(process.env["NATS_SERVER_BIN"] ?? "nats-server", ["-c", conf], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    children[i] = child;
    await new Promise<void>((resolve, reject) => {
      let log = "";
      child.stderr?.on("data", (d: Buffer) => {
        log += d.toString();
        if (log.length > 100_000) log = log.slice(-50_000);
        // A metadata leader elected somewhere: the cluster answers JetStream requests.
        if (/JetStream cluster new metadata leader|Self is new JetStream cluster metadata leader/.test(log)) resolve();
      });
      child.once("exit", (code) => reject(new Error(`nats-server n${i} exited with ${code}: ${log}`)));
    });
  });
  // Every node, not just one: a node that has not yet heard of the metadata leader lets a client's JetStream
  // request time out (seen with 2.15: the client connected to the node that was a moment late).
  try {
    await Promise.all(ready);
  } catch (err) {
    for (const c of children) c.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const urls = nodes.map((n) => `nats://127.0.0.1:${n.port}`);
  try {
    await placementReady(urls);
  } catch (err) {
    for (const c of children) c.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const exited = (c: ChildProcess): boolean => c.exitCode !== null || c.signalCode !== null;
  const kill = async (i: number): Promise<void> => {
    const child = children[i];
    if (child === undefined || exited(child)) return;
    const gone = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await gone;
  };
  return {
    urls,
    monitorPorts: nodes.map((n) => n.monitor),
    names: nodes.map((_, i) => `n${i}`),
    kill,
    async stop() {
      await Promise.all(children.map((_, i) => kill(i)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A leader being elected is not enough: a node that has not caught up lets a client's JetStream requests time
 * out (seen under load), and until the metadata leader has heard from both peers an R3 stream is refused with
 * "no suitable peers for placement". So: every node answers a JetStream request through its own connection,
 * and a probe R3 stream is created and removed, each retried until it works (30 s in all).
 */
async function placementReady(urls: string[]): Promise<void> {
  const until = Date.now() + 30_000;
  const retry = async (what: string, attempt: () => Promise<void>): Promise<void> => {
    for (;;) {
      try {
        return await attempt();
      } catch (err) {
        if (Date.now() > until) throw new Error(`the 3-node cluster never ${what}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  const probe = async (servers: string | string[], place: boolean): Promise<void> => {
    const bus = await connectJetStreamBus({ servers, streamReplicas: 3, provision: true, name: "cluster-probe" });
    try {
      if (!place) return;
      await bus.ensureComponent({ name: "cluster-probe", ackWaitMs: 1_000, maxDeliver: 1, duplicateWindowMs: 1_000 });
      await bus.removeComponent("cluster-probe");
    } finally {
      await bus.close();
    }
  };
  for (const url of urls) await retry(`answered JetStream on ${url}`, () => probe(url, false));
  await retry("placed an R3 stream", () => probe(urls, true));
}
