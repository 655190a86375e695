import { createServer, type Server } from "node:http";
import { randomUUID } from "node:crypto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { gatewayStreamName, NATS_CLIENT_OPTIONS, outboundSubject, type SendCommand } from "@tessera/contract";
import { createEgress } from "@tessera/egress";
import {
  createAdapterRegistry,
  ensureGatewayStreams,
  publishSendCommand,
  startSenderPool,
  staticAccounts,
  webhookSender,
  type RateLimit,
} from "@tessera/gateway";
import type { BenchEnv } from "./bench-env.js";
import { round, summarize, type LatencySummary } from "./stats.js";

/*
 * Issue 20's fairness SLO: one account bursting at 10 times its rate limit must leave another account's outbound
 * p99 within 2 times its unburdened value. One sender pool (shared buckets, the default) sends to a local
 * receiver through the generic webhook adapter; the quiet account offers well under its limit throughout, the
 * noisy one offers 10 times its limit in the second phase only. Latency: publish of the SendCommand -> the
 * receiver holding the request.
 */

export const FAIRNESS_SLO = { maxP99Ratio: 2, burstFactor: 10 } as const;

const QUIET = { offeredPerSecond: 20, limit: { perSecond: 50, burst: 10 } satisfies RateLimit };
const NOISY = { limit: { perSecond: 20, burst: 10 } satisfies RateLimit };
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

export interface FairnessPhase {
  quiet: LatencySummary & { sent: number };
  /** The noisy account's commands offered and delivered during the phase (undefined when it was silent). */
  noisy?: { offered: number; delivered: number; deliveredPerSecond: number };
}

export interface FairnessReport {
  seconds: number;
  quiet: typeof QUIET;
  noisy: typeof NOISY & { offeredPerSecond: number };
  unburdened: FairnessPhase;
  burdened: FairnessPhase;
  /** The quiet account's p99 with the burst divided by its p99 without, from the same run. */
  ratio: { p50: number; p99: number };
  slo: typeof FAIRNESS_SLO & { met: boolean };
}

/** Calls `send` `rate` times a second for `seconds` (open loop), resolving when every call has resolved. */
async function offer(rate: number, seconds: number, send: () => Promise<void>): Promise<number> {
  const total = Math.round(rate * seconds);
  const started = performance.now();
  const pending: Promise<void>[] = [];
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
      while (pending.length < due) pending.push(send());
      if (pending.length >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(pending);
  return total;
}

export async function gatewayFairness(env: BenchEnv, opts: { seconds: number }): Promise<FairnessReport> {
  const arrived = new Map<string, number>();
  const receiver: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const at = performance.now();
      const id = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id: string }).id;
      if (!arrived.has(id)) arrived.set(id, at);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: `ext-${id}` }));
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
  const nc = await connect({ ...NATS_CLIENT_OPTIONS, servers: env.natsUrl });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await ensureGatewayStreams(jsm);
  const egress = createEgress({ allow: { cidrs: ["127.0.0.1/32"] }, timeoutMs: 10_000 });
  const run = randomUUID().slice(0, 8);
  const account = (name: string, rateLimit: RateLimit) => ({
    channelType: "webhook",
    tenant: "bench",
    account: `${name}-${run}`,
    signingSecrets: [],
    credentials: { signingSecret: SECRET },
    settings: { url },
    rateLimit,
  });
  const quietAccount = account("quiet", QUIET.limit);
  const noisyAccount = account("noisy", NOISY.limit);
  const pool = await startSenderPool({
    nats: nc,
    registry: createAdapterRegistry({ outbound: [webhookSender()] }),
    accounts: staticAccounts([quietAccount, noisyAccount]),
    egress,
  });
  let seq = 0;
  const publishedAt = new Map<string, number>();
  const send = (a: { account: string }) => async (): Promise<void> => {
    const command: SendCommand = {
      schema_version: 1,
      id: `fair-${run}-${a.account}-${++seq}`,
      scope: { tenant: "bench", account: a.account },
      channel_type: "webhook",
      destination: { conversation: "room" },
      text: "x".repeat(200),
    };
    publishedAt.set(command.id, performance.now());
    await publishSendCommand(js, command);
  };
  const noisyOfferedPerSecond = NOISY.limit.perSecond * FAIRNESS_SLO.burstFactor;

  async function phase(withNoisy: boolean): Promise<FairnessPhase> {
    const ids = (who: string) => [...publishedAt.keys()].filter((id) => id.includes(`-${who}-${run}-`));
    const before = new Set(publishedAt.keys());
    const started = performance.now();
    const [quietSent, noisyOffered] = await Promise.all([
      offer(QUIET.offeredPerSecond, opts.seconds, send(quietAccount)),
      withNoisy ? offer(noisyOfferedPerSecond, opts.seconds, send(noisyAccount)) : Promise.resolve(0),
    ]);
    const quietIds = ids("quiet").filter((id) => !before.has(id));
    await env.waitUntil(`the quiet account's ${quietSent} commands to arrive`, () =>
      quietIds.every((id) => arrived.has(id)),
    );
    const elapsedS = (performance.now() - started) / 1000;
    const samples = quietIds.map((id) => (arrived.get(id) as number) - (publishedAt.get(id) as number));
    const result: FairnessPhase = { quiet: { sent: quietSent, ...summarize(samples) } };
    if (withNoisy) {
      const delivered = ids("noisy").filter((id) => !before.has(id) && arrived.has(id)).length;
      result.noisy = { offered: noisyOffered, delivered, deliveredPerSecond: round(delivered / elapsedS, 1) };
    }
    return result;
  }

  try {
    await phase(false); // warm-up: connections, buckets, JIT
    const unburdened = await phase(false);
    const burdened = await phase(true);
    const ratio = {
      p50: round(burdened.quiet.p50 / unburdened.quiet.p50),
      p99: round(burdened.quiet.p99 / unburdened.quiet.p99),
    };
    return {
      seconds: opts.seconds,
      quiet: QUIET,
      noisy: { ...NOISY, offeredPerSecond: noisyOfferedPerSecond },
      unburdened,
      burdened,
      ratio,
      slo: { ...FAIRNESS_SLO, met: ratio.p99 <= FAIRNESS_SLO.maxP99Ratio },
    };
  } finally {
    await pool.stop();
    // The noisy backlog would drain at its limit for minutes: the run is over, so it goes.
    await jsm.streams
      .purge(gatewayStreamName("outbound"), {
        filter: outboundSubject({ channelType: "webhook", tenant: "bench", account: noisyAccount.account }),
      })
      .catch(() => undefined);
    await egress.close();
    await nc.close();
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  }
}
