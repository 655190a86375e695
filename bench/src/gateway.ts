import { randomUUID } from "node:crypto";
import { Agent, request } from "node:http";
import { standardWebhookHeaders, webhookPath } from "@tessera/gateway";
import { assertRunning, type BenchEnv } from "./bench-env.js";
import { openLoopLatency, type LatencyResult } from "./open-loop.js";
import { round } from "./stats.js";
import { runMeasured, type ThroughputResult } from "./throughput.js";
import { windowed } from "./windowed.js";

export type GatewaySystem = "gateway inbound (Standard Webhooks -> JetStream)" | "bare node:http, 202";

/**
 * One server under the same client: requests/s over `jobs` requests (the throughput fields keep the other groups'
 * names: a job here is one request), then latency at a fixed offered rate; `cpuUsPerJob.worker` is the server's.
 */
export interface GatewayRow extends ThroughputResult {
  system: GatewaySystem;
  /** Keep-alive connections the client holds open (the throughput run keeps each busy). */
  connections: number;
  latency: LatencyResult;
}

/** Issue 20's SLO: at least half the bare server's throughput, p99 under 10 ms at 1,000 requests/s. */
export const GATEWAY_SLO = { minThroughputRatio: 0.5, maxP99Ms: 10, atRate: 1_000 } as const;

export interface GatewayReport {
  rows: GatewayRow[];
  /** The gateway's figure divided by the bare server's, from the same run. */
  ratio?: { requestsPerSecond: number; p50: number; p99: number };
  slo: typeof GATEWAY_SLO & { throughputMet?: boolean; p99Met?: boolean };
}

const CONNECTIONS = 32;
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const PATH = webhookPath("webhook", "bench", "load");

interface SignedPost {
  id: string;
  body: string;
  headers: Record<string, string>;
}

/**
 * Requests signed before the clock starts (signing is the platform's work, not the gateway's), each with its own
 * webhook-id so every one is a new message; a 200-character text, as a chat message.
 */
function signedPosts(count: number): SignedPost[] {
  const run = randomUUID().slice(0, 8);
  const text = "x".repeat(200);
  const ts = Math.floor(Date.now() / 1000);
  return Array.from({ length: count }, (_, i) => {
    const id = `msg_${run}_${i}`;
    const body = JSON.stringify({ conversation: "room-1", sender: { id: "u-1", name: "Load" }, text });
    return {
      id,
      body,
      headers: {
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
        ...standardWebhookHeaders([SECRET], id, ts, body),
      },
    };
  });
}

/** POSTs one request on the agent's keep-alive connections; rejects on anything but a 2xx. */
function post(agent: Agent, url: URL, p: SignedPost): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, path: PATH, method: "POST", headers: p.headers },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () =>
          (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300
            ? resolve()
            : reject(new Error(`${p.id}: ${res.statusCode} ${text.slice(0, 300)}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(p.body);
  });
}

/**
 * The gateway's inbound server (its own process, publishing to the run's nats-server) against a bare node:http
 * server answering 202 (its own process too), under the same client in the bench process: closed-loop
 * throughput over `requests` requests on 32 connections, then open-loop latency at `rate` requests/s.
 */
export async function gatewayCost(
  env: BenchEnv,
  opts: { requests: number; rate: number; seconds: number; warmupRequests: number },
): Promise<GatewayReport> {
  const rows: GatewayRow[] = [];
  for (const [system, mode] of [
    ["bare node:http, 202", "bare"],
    ["gateway inbound (Standard Webhooks -> JetStream)", "gateway"],
  ] as const) {
    const server = env.spawnWorker("workers/gateway-server.ts", { MODE: mode, SECRET });
    const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    try {
      const ready = await server.line(`the ${mode} server to be ready`, (l) => l["event"] === "ready", 30_000);
      const url = new URL(String(ready["url"]));
      const posts = signedPosts(opts.warmupRequests + opts.requests + Math.round(opts.rate * opts.seconds));
      let next = 0;
      const send = (): Promise<string> => {
        const p = posts[next++] as SignedPost;
        return post(agent, url, p).then(() => p.id);
      };
      await windowed(opts.warmupRequests, CONNECTIONS, send);
      const throughput = await runMeasured(opts.requests, () => windowed(opts.requests, CONNECTIONS, send));
      assertRunning(server, `the ${mode} server`);
      const completedAt = new Map<string, number>();
      const latency = await openLoopLatency(
        env,
        `${mode} requests`,
        opts.rate,
        opts.seconds,
        () => send().then((id) => (completedAt.set(id, performance.now()), id)),
        completedAt,
      );
      rows.push({ system, connections: CONNECTIONS, ...throughput, latency });
    } finally {
      agent.destroy();
      await server.kill();
    }
  }
  return { rows, ...judge(rows) };
}

function judge(rows: GatewayRow[]): Pick<GatewayReport, "ratio" | "slo"> {
  const bare = rows.find((r) => r.system === "bare node:http, 202");
  const gateway = rows.find((r) => r.system !== "bare node:http, 202");
  if (bare === undefined || gateway === undefined) return { slo: { ...GATEWAY_SLO } };
  const ratio = {
    requestsPerSecond: round(gateway.jobsPerSecond / bare.jobsPerSecond),
    p50: round(gateway.latency.p50 / bare.latency.p50),
    p99: round(gateway.latency.p99 / bare.latency.p99),
  };
  return {
    ratio,
    slo: {
      ...GATEWAY_SLO,
      throughputMet: ratio.requestsPerSecond >= GATEWAY_SLO.minThroughputRatio,
      ...(gateway.latency.offeredPerSecond === GATEWAY_SLO.atRate
        ? { p99Met: gateway.latency.p99 < GATEWAY_SLO.maxP99Ms }
        : {}),
    },
  };
}
