import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { SendCommand } from "@tessera/contract";
import { createEgress, type Egress } from "@tessera/egress";
import {
  SharedRateLimiter,
  createAdapterRegistry,
  ensureGatewayStreams,
  publishSendCommand,
  slackOutbound,
  startSenderPool,
  staticAccounts,
  type SenderEvent,
  type SenderPool,
  type TokenBuckets,
} from "@tessera/gateway";
import { startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack } from "./support/fake-slack.js";

/*
 * Token buckets shared by sender replicas (a real nats-server's key-value store): two limiters on two
 * connections keep one rate between them, and a command denied on one replica spends its booking on the other.
 */

const TOKEN = "xoxb-shared";
let nats: NatsServerHandle;
const connections: NatsConnection[] = [];
let slack: FakeSlack;
let egress: Egress;

async function connection(): Promise<NatsConnection> {
  const nc = await connect({ servers: nats.url });
  connections.push(nc);
  return nc;
}

beforeAll(async () => {
  nats = await startNatsServer();
  await ensureGatewayStreams(await jetstreamManager(await connection()), { duplicateWindowMs: 60_000 });
  slack = await new FakeSlack(TOKEN).start();
  egress = createEgress({ allow: { cidrs: ["127.0.0.1/32"] }, timeoutMs: 5_000 });
});

afterAll(async () => {
  await egress?.close();
  await slack?.stop();
  for (const nc of connections) await nc.close();
  await nats?.stop();
});

/**
 * Token-bucket conformance of send times (ms): no stretch of them holds more sends than burst + rate × its length
 * (plus one token for the store's round trip between a take and its recorded time).
 */
function worstExcess(times: number[], perSecond: number, burst: number): number {
  const t = [...times].sort((a, b) => a - b);
  let worst = -Infinity;
  for (let i = 0; i < t.length; i++)
    for (let j = i; j < t.length; j++)
      worst = Math.max(worst, j - i + 1 - (burst + (perSecond * (t[j]! - t[i]!)) / 1000));
  return worst;
}

describe("shared token buckets on a real nats-server", () => {
  it("two limiters on two connections keep one bucket's rate, each command denied at most once", async () => {
    const limiters: TokenBuckets[] = [
      await SharedRateLimiter.open(await connection()),
      await SharedRateLimiter.open(await connection()),
    ];
    const limit = { perSecond: 20, burst: 5 };
    const sends: number[] = [];
    const denials = new Map<string, number>();
    // 30 commands at once, as two replicas' senders would take them; a denied one waits as told and comes back
    // on the other replica.
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const id = `cmd-${i}`;
        let returning = false;
        for (let round = 0; ; round++) {
          const taken = await limiters[(i + round) % 2]!.take("acme/W1", limit, { id, returning });
          if (taken.ok) break;
          denials.set(id, (denials.get(id) ?? 0) + 1);
          returning = true;
          await new Promise((r) => setTimeout(r, taken.waitMs));
        }
        sends.push(performance.now());
      }),
    );
    expect(sends).toHaveLength(30);
    expect(Math.max(...denials.values())).toBe(1);
    expect(worstExcess(sends, limit.perSecond, limit.burst)).toBeLessThanOrEqual(1);
    // (30 - 5) / 20 s at least; two separate buckets would have let it through in about half of that.
    expect(Math.max(...sends) - Math.min(...sends)).toBeGreaterThanOrEqual(1_150);
  });

  it("keys are kept apart, any string is a key, and a too slow limit is refused by name", async () => {
    const limiter = await SharedRateLimiter.open(await connection());
    const limit = { perSecond: 1, burst: 1 };
    for (const key of ["", "a.b>*", "ünïcødé/😀", "x".repeat(2_000)]) {
      expect(await limiter.take(key, limit)).toEqual({ ok: true });
      expect(await limiter.take(key, limit)).toMatchObject({ ok: false, reserved: true });
    }
    await expect(
      startSenderPool({
        nats: await connection(),
        registry: createAdapterRegistry({ outbound: [slackOutbound()] }),
        accounts: staticAccounts([]),
        egress,
        defaultRateLimit: { perSecond: 1 / 86_400, burst: 1 },
      }),
    ).rejects.toThrow(/defaultRateLimit: burst \/ perSecond is 86400 s; at most 82800 s/);
  });

  it("two sender pools on one queue keep an account's rate together (two local buckets do not)", async () => {
    const accounts = staticAccounts([
      {
        channelType: "slack",
        tenant: "acme",
        account: "shared",
        signingSecrets: [],
        credentials: { botToken: TOKEN },
        rateLimit: { perSecond: 4, burst: 1 },
      },
    ]);
    const registry = createAdapterRegistry({ outbound: [slackOutbound({ apiBase: `${slack.url}/api/` })] });
    const publisher = await connection();
    const js = (await import("@nats-io/jetstream")).jetstream(publisher);
    let seq = 0;

    async function run(buckets: "shared" | "local", channel: string) {
      const events: SenderEvent[] = [];
      const pools: SenderPool[] = [];
      for (let i = 0; i < 2; i++)
        pools.push(
          await startSenderPool({
            nats: await connection(),
            registry,
            accounts,
            egress,
            buckets,
            random: () => 0,
            onEvent: (e) => events.push(e),
          }),
        );
      try {
        const commands: SendCommand[] = Array.from({ length: 8 }, () => ({
          schema_version: 1,
          id: `cmd-${buckets}-${++seq}`,
          scope: { tenant: "acme", account: "shared" },
          channel_type: "slack",
          destination: { conversation: channel },
          text: "hi",
        }));
        for (const c of commands) await publishSendCommand(js, c);
        await waitFor(
          "every command delivered",
          () => commands.every((c) => events.some((e) => e.type === "delivered" && e.command.id === c.id)),
          20_000,
        );
        const denied = events.filter((e) => e.type === "retry" && e.reason === "local rate limit");
        const perCommand = new Map<string, number>();
        for (const e of denied)
          if (e.type === "retry") perCommand.set(e.commandId, (perCommand.get(e.commandId) ?? 0) + 1);
        return { times: slack.callsTo(channel).map((c) => c.atMs), maxDenials: Math.max(0, ...perCommand.values()) };
      } finally {
        for (const p of pools) await p.stop();
      }
    }

    const shared = await run("shared", "C_SHARED");
    expect(shared.times).toHaveLength(8);
    expect(worstExcess(shared.times, 4, 1)).toBeLessThanOrEqual(1);
    // 7 tokens after the first at 4 per second take 1.75 s (the first send, opening the connection, lands late);
    // two buckets would have taken about 0.75 s.
    expect(Math.max(...shared.times) - Math.min(...shared.times)).toBeGreaterThanOrEqual(1_400);
    expect(shared.maxDenials).toBeLessThanOrEqual(1);

    // The baseline: each replica its own bucket lets through twice the rate.
    const local = await run("local", "C_LOCAL");
    expect(local.times).toHaveLength(8);
    expect(worstExcess(local.times, 4, 1)).toBeGreaterThan(1);
  });
  it("an account's backlog of rate-denied commands does not hold back another account's commands", async () => {
    const registry = createAdapterRegistry({ outbound: [slackOutbound({ apiBase: `${slack.url}/api/` })] });
    const accounts = staticAccounts(
      ["flood", "calm"].map((account) => ({
        channelType: "slack",
        tenant: "acme",
        account,
        signingSecrets: [],
        credentials: { botToken: TOKEN },
        rateLimit: account === "flood" ? { perSecond: 1, burst: 1 } : { perSecond: 50, burst: 5 },
      })),
    );
    const events: SenderEvent[] = [];
    // Two slots: the old cap on pending commands (4 x the slots) was 8, so the flood's 30 denied commands, waiting
    // out their delays on the server, stopped deliveries for about half a minute.
    const pool = await startSenderPool({
      nats: await connection(),
      registry,
      accounts,
      egress,
      concurrency: 2,
      onEvent: (e) => events.push(e),
    });
    const js = (await import("@nats-io/jetstream")).jetstream(await connection());
    const make = (account: string, i: number): SendCommand => ({
      schema_version: 1,
      id: `cmd-${account}-${i}`,
      scope: { tenant: "acme", account },
      channel_type: "slack",
      destination: { conversation: `C_${account.toUpperCase()}` },
      text: "hi",
    });
    try {
      for (let i = 0; i < 30; i++) await publishSendCommand(js, make("flood", i));
      await waitFor("the flood's commands denied", () => events.filter((e) => e.type === "retry").length >= 8);
      const sentAt = performance.now();
      await publishSendCommand(js, make("calm", 1));
      await waitFor("the calm account's command delivered", () =>
        events.some((e) => e.type === "delivered" && e.command.id === "cmd-calm-1"),
      );
      expect(performance.now() - sentAt).toBeLessThan(3_000);
    } finally {
      await pool.stop();
      const jsm = await jetstreamManager(await connection());
      await jsm.streams.purge("TESSERA_GW_OUTBOUND", { filter: "tessera.gw.out.slack.acme.flood" });
    }
  });
});
