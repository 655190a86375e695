import { jetstreamManager } from "@nats-io/jetstream";
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
import {
  ContractValidationError,
  PAYLOAD_BUCKET,
  SCHEMA_VERSION,
  jobConsumerConfig,
  jobStreamConfig,
  jobStreamName,
  resultSubject,
  type Heartbeat,
  type Job,
  type Result,
} from "@tessera/contract";
import { startNatsServer, sleep, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bus, ExhaustedDelivery, HeartbeatEvent, JobDelivery, ResultEvent, Subscription } from "../src/bus.js";
import {
  BusClosedError,
  BusNotProvisionedError,
  PayloadMissingError,
  PayloadNotOwnedError,
  PayloadTooLargeError,
} from "../src/errors.js";
import { connectJetStreamBus } from "../src/nats/jetstream-bus.js";

let nats: NatsServerHandle;
let bus: Bus;
let raw: NatsConnection;
const subs: Subscription[] = [];
let seq = 0;

const utf8 = new TextEncoder();
const PAYLOAD_TTL_MS = 60 * 60 * 1000;

function job(component: string, id = `job-${++seq}`): Job {
  return {
    schema_version: SCHEMA_VERSION,
    job_id: id,
    component,
    content_type: "application/json",
    limits: { max_bytes: 1024, wall_clock: 1000 },
    input: { inline: { n: seq } },
  };
}

function result(component: string, jobId: string, status: "completed" | "failed" = "completed"): Result {
  return {
    schema_version: SCHEMA_VERSION,
    job_id: jobId,
    component,
    status,
    ...(status === "failed" ? { reason_code: "handler_error" } : {}),
    attempt: 1,
    finished_at: new Date().toISOString(),
  };
}

async function component(name: string, over: { ackWaitMs?: number; maxDeliver?: number } = {}): Promise<string> {
  await bus.ensureComponent({
    name,
    ackWaitMs: over.ackWaitMs ?? 800,
    maxDeliver: over.maxDeliver ?? 5,
    duplicateWindowMs: 60_000,
  });
  return name;
}

async function consume(
  name: string,
  maxInFlight: number,
  handler: (d: JobDelivery) => void | Promise<void>,
): Promise<Subscription> {
  const sub = await bus.consumeJobs(name, { maxInFlight }, handler);
  subs.push(sub);
  return sub;
}

async function streamMessages(name: string): Promise<number> {
  const jsm = await jetstreamManager(raw);
  return (await jsm.streams.info(jobStreamName(name))).state.messages;
}

beforeAll(async () => {
  nats = await startNatsServer();
  bus = await connectJetStreamBus({ servers: nats.url, name: "nats-backend-test", payloadTtlMs: PAYLOAD_TTL_MS });
  raw = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
});

afterAll(async () => {
  await Promise.allSettled(subs.map((s) => s.stop()));
  await bus?.close();
  await raw?.close();
  await nats?.stop();
});

describe("jetstream bus: publishing", () => {
  it("deduplicates on the job id, honours a fresh dedup key, and refuses invalid jobs and unknown components", async () => {
    const c = await component("pub");
    const j = job(c);
    const first = await bus.publishJob(j);
    expect(first.duplicate).toBe(false);
    const again = await bus.publishJob(j);
    expect(again).toEqual({ seq: first.seq, duplicate: true });
    const redrive = await bus.publishJob(j, { dedupKey: `${j.job_id}:redrive-1` });
    expect(redrive.duplicate).toBe(false);
    expect(redrive.seq).toBeGreaterThan(first.seq);
    const raw1 = await bus.publishRawJob(c, utf8.encode("not json"));
    const raw2 = await bus.publishRawJob(c, utf8.encode("not json"));
    expect(raw2.seq).toBeGreaterThan(raw1.seq); // no dedup key, no dedup
    expect(await bus.queueDepth(c)).toEqual({ pending: 4, ackPending: 0, total: 4 });

    await expect(bus.publishJob({ ...j, limits: { max_bytes: 0, wall_clock: 1 } })).rejects.toBeInstanceOf(
      ContractValidationError,
    );
    await expect(bus.publishJob(job("no-such-component"))).rejects.toBeInstanceOf(BusNotProvisionedError);
    await expect(bus.queueDepth("no-such-component")).rejects.toBeInstanceOf(BusNotProvisionedError);
  });

  it("ensureComponent is idempotent and updates a changed configuration", async () => {
    const c = await component("ensure", { ackWaitMs: 500, maxDeliver: 3 });
    await bus.ensureComponent({ name: c, ackWaitMs: 500, maxDeliver: 3, duplicateWindowMs: 60_000 });
    await bus.ensureComponent({
      name: c,
      ackWaitMs: 700,
      maxDeliver: 4,
      duplicateWindowMs: 30_000,
      jobSubjects: ["legacy.ensure"],
    });
    const jsm = await jetstreamManager(raw);
    const si = await jsm.streams.info(jobStreamName(c));
    expect(si.config.subjects.sort()).toEqual(["legacy.ensure", "tessera.jobs.ensure"]);
    expect(si.config.duplicate_window).toBe(nanos(30_000));
    const ci = await jsm.consumers.info(jobStreamName(c), "tessera-worker-ensure");
    expect(ci.config.max_deliver).toBe(4);
    expect(ci.config.ack_wait).toBe(nanos(700));
    // What the server holds is the contract's config, which the controller renders for Kubernetes too.
    const settings = {
      name: c,
      ackWaitMs: 700,
      maxDeliver: 4,
      duplicateWindowMs: 30_000,
      jobSubjects: ["legacy.ensure"],
    };
    expect(si.config).toMatchObject({ ...jobStreamConfig(settings), subjects: expect.any(Array) as unknown });
    expect(ci.config).toMatchObject(jobConsumerConfig(settings));
    await bus.removeComponent(c);
    await bus.removeComponent(c); // not found is fine
    await expect(bus.queueDepth(c)).rejects.toBeInstanceOf(BusNotProvisionedError);
  });
});

describe("jetstream bus: consuming jobs", () => {
  it("hands out at most maxInFlight deliveries and acks remove them", async () => {
    const c = await component("consume");
    const ids = Array.from({ length: 8 }, () => job(c));
    const publishedFrom = Date.now();
    for (const j of ids) await bus.publishJob(j);
    const publishedTo = Date.now();
    const seen: JobDelivery[] = [];
    let inFlight = 0;
    let maxSeen = 0;
    await consume(c, 3, async (d) => {
      inFlight++;
      maxSeen = Math.max(maxSeen, inFlight);
      seen.push(d);
      await sleep(30);
      inFlight--;
      d.ack();
      d.ack(); // ignored
      d.nak(); // ignored
    });
    await waitFor("all acked", async () => (await bus.queueDepth(c)).total === 0 && seen.length === 8);
    expect(maxSeen).toBeLessThanOrEqual(3);
    expect(seen.map((d) => d.dedupKey).sort()).toEqual(ids.map((j) => j.job_id).sort());
    expect(seen.every((d) => d.deliveryCount === 1 && d.component === c && d.ackWaitMs === 800)).toBe(true);
    expect(JSON.parse(new TextDecoder().decode(seen[0]?.data)).component).toBe(c);
    for (const d of seen) {
      expect(d.publishedAt).toBeGreaterThanOrEqual(publishedFrom - 1_000);
      expect(d.publishedAt).toBeLessThanOrEqual(publishedTo + 1_000);
    }
    await sleep(1_200); // beyond the ack wait: nothing comes back
    expect(seen).toHaveLength(8);
    expect(await streamMessages(c)).toBe(0);
  });

  it("nak(delay) redelivers after the delay; a throwing handler is a nak", async () => {
    const c = await component("nak");
    await bus.publishJob(job(c));
    const times: number[] = [];
    const counts: number[] = [];
    await consume(c, 1, (d) => {
      times.push(Date.now());
      counts.push(d.deliveryCount);
      if (d.deliveryCount === 1) d.nak(600);
      else if (d.deliveryCount === 2) throw new Error("boom");
      else d.ack();
    });
    await waitFor("third delivery", () => counts.length >= 3);
    expect(counts.slice(0, 3)).toEqual([1, 2, 3]);
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(450);
    await waitFor("acked", async () => (await bus.queueDepth(c)).total === 0);
  });

  it("term() removes the job without redelivery", async () => {
    const c = await component("term");
    const { seq: s } = await bus.publishJob(job(c));
    let n = 0;
    await consume(c, 1, (d) => {
      n++;
      d.term();
    });
    await waitFor("termed", async () => n === 1 && (await streamMessages(c)) === 0);
    await sleep(1_200);
    expect(n).toBe(1);
    expect(await bus.removeJob(c, s)).toBe(false);
  });

  it("redelivers after the ack wait, and working() holds the job", async () => {
    const c = await component("ackwait", { ackWaitMs: 500 });
    await bus.publishJob(job(c, "slow"));
    await bus.publishJob(job(c, "held"));
    const counts = new Map<string, number[]>();
    await consume(c, 2, async (d) => {
      const id = d.dedupKey ?? "?";
      counts.set(id, [...(counts.get(id) ?? []), d.deliveryCount]);
      if (id === "slow") {
        if (d.deliveryCount >= 2) d.ack(); // first delivery left unsettled
        return;
      }
      for (let i = 0; i < 6; i++) {
        await sleep(200);
        d.working();
      }
      d.ack();
    });
    await waitFor(
      "both done",
      async () => (await bus.queueDepth(c)).total === 0 && counts.get("slow")?.length === 2,
      10_000,
    );
    expect(counts.get("slow")).toEqual([1, 2]);
    expect(counts.get("held")).toEqual([1]);
  });

  it("consumeJobs never creates: a missing consumer is BusNotProvisionedError (bindOnly or not)", async () => {
    await expect(
      bus.consumeJobs("missing", { maxInFlight: 1, bindOnly: true }, () => undefined),
    ).rejects.toBeInstanceOf(BusNotProvisionedError);
    await expect(bus.consumeJobs("missing", { maxInFlight: 1 }, () => undefined)).rejects.toBeInstanceOf(
      BusNotProvisionedError,
    );
    const worker = await connectJetStreamBus({ servers: nats.url, provision: false });
    try {
      await expect(
        worker.consumeJobs("missing", { maxInFlight: 1, bindOnly: true }, () => undefined),
      ).rejects.toBeInstanceOf(BusNotProvisionedError);
      await expect(worker.publishJob(job("missing"))).rejects.toBeInstanceOf(BusNotProvisionedError);
      const jsm = await jetstreamManager(raw);
      await expect(jsm.streams.info(jobStreamName("missing"))).rejects.toThrow();
    } finally {
      await worker.close();
    }
  });

  it("stop() stops pulling while handed-out deliveries stay settle-able", async () => {
    const c = await component("stop");
    await bus.publishJob(job(c));
    let held: JobDelivery | undefined;
    const sub = await consume(c, 1, (d) => {
      held = d;
    });
    await waitFor("delivery", () => held);
    await sub.stop();
    await sub.closed;
    await bus.publishJob(job(c));
    held?.ack();
    await waitFor("first acked, second pending", async () => {
      const q = await bus.queueDepth(c);
      return q.ackPending === 0 && q.pending === 1;
    });
  });
});

describe("jetstream bus: exhaustion and dead letters", () => {
  it("reports exhaustion that happened before anyone observed, dead-letters it, idempotently", async () => {
    const c = await component("exhaust", { ackWaitMs: 300, maxDeliver: 2 });
    const j = job(c, "doomed");
    const { seq: s } = await bus.publishJob(j);
    const deliveries: number[] = [];
    await consume(c, 1, (d) => {
      deliveries.push(d.deliveryCount);
      d.nak();
    });
    await waitFor("advisory captured", async () => {
      const jsm = await jetstreamManager(raw);
      return (await jsm.streams.info("TESSERA_ADVISORIES")).state.messages > 0;
    });
    expect(deliveries).toEqual([1, 2]);
    expect(await streamMessages(c)).toBe(1); // an exhausted job stays in its WorkQueue stream
    expect((await bus.queueDepth(c)).total).toBe(0);

    const events: ExhaustedDelivery[] = [];
    let throwOnce = true;
    const obs = await bus.observeExhausted((e) => {
      if (e.component !== c) return;
      if (throwOnce) {
        throwOnce = false;
        throw new Error("redeliver me");
      }
      events.push(e);
    });
    subs.push(obs);
    await waitFor("exhaustion observed", () => events.length === 1);
    const e = events[0] as ExhaustedDelivery;
    expect(e).toMatchObject({ component: c, streamSeq: s, deliveries: 2, dedupKey: "doomed" });
    expect(JSON.parse(new TextDecoder().decode(e.data)).job_id).toBe("doomed");

    await bus.deadLetter(e, { reasonCode: "dead_lettered", reasonDetail: "line one\r\nline two: 100% ünïcode" });
    await bus.deadLetter(e, { reasonCode: "dead_lettered", reasonDetail: "again" });
    expect(await streamMessages(c)).toBe(0);
    const letters = await bus.listDeadLetters(c);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      component: c,
      jobId: "doomed",
      streamSeq: s,
      deliveries: 2,
      reasonCode: "dead_lettered",
      reasonDetail: "line one\nline two: 100% ünïcode",
    });
    expect(Buffer.from(letters[0]?.data ?? []).equals(Buffer.from(e.data ?? []))).toBe(true);
    expect(Number.isNaN(Date.parse(letters[0]?.deadLetteredAt ?? ""))).toBe(false);
    expect(await bus.removeJob(c, s)).toBe(false);
    await sleep(300);
    expect(events).toHaveLength(1);
  });

  it("publishDeadLetter records unattributable bytes; listDeadLetters keeps order and components apart", async () => {
    const c = await component("letters");
    const base = {
      component: c,
      jobId: undefined,
      streamSeq: undefined,
      deliveries: 1,
      reasonCode: "invalid_envelope",
      reasonDetail: "not json",
      deadLetteredAt: new Date().toISOString(),
    };
    await bus.publishDeadLetter({ ...base, data: utf8.encode("garbage-1") });
    await bus.publishDeadLetter({ ...base, data: utf8.encode("garbage-2") });
    await bus.publishDeadLetter({ ...base, data: utf8.encode("garbage-1") }); // same content: deduplicated
    const letters = await bus.listDeadLetters(c);
    expect(letters.map((l) => new TextDecoder().decode(l.data))).toEqual(["garbage-1", "garbage-2"]);
    expect(letters[0]).toMatchObject({
      jobId: undefined,
      streamSeq: undefined,
      reasonCode: "invalid_envelope",
      deadLetteredAt: base.deadLetteredAt,
    });
    expect(await bus.listDeadLetters("nobody")).toEqual([]);
  });
});

describe("jetstream bus: results and heartbeats", () => {
  it("stores, looks up and durably delivers Results; invalid ones arrive as invalid and are acked", async () => {
    const c = "results";
    const first = result(c, "r-1");
    await bus.publishResult(first);
    await bus.publishResult({ ...first }); // a retried publish: deduplicated
    await bus.publishResult(result(c, "r-2", "failed"));
    expect((await bus.getResult(c, "r-1"))?.status).toBe("completed");
    expect((await bus.getResult(c, "r-2"))?.reason_code).toBe("handler_error");
    expect(await bus.getResult(c, "nope")).toBeUndefined();
    raw.publish(resultSubject(c, "bad"), utf8.encode("{ nope"));
    await raw.flush();

    const events: ResultEvent[] = [];
    let fail = true;
    const sub = await bus.consumeResults((e) => {
      if (e.kind === "result" && e.result.job_id === "r-2" && fail) {
        fail = false;
        throw new Error("db down");
      }
      events.push(e);
    });
    await waitFor("results delivered", () => events.length === 3);
    await sub.stop();
    const ids = events.map((e) => (e.kind === "result" ? e.result.job_id : `invalid:${e.subject}`));
    expect(ids.sort()).toEqual(["invalid:tessera.results.results.bad", "r-1", "r-2"]);

    // Published while nobody listens: delivered to the next subscriber of the durable consumer.
    await bus.publishResult(result(c, "r-3"));
    const later: ResultEvent[] = [];
    subs.push(await bus.consumeResults((e) => void later.push(e)));
    await waitFor("r-3 delivered", () => later.length === 1);
    await sleep(200);
    expect(later).toHaveLength(1);
    expect(later[0]?.kind === "result" && later[0].result.job_id).toBe("r-3");
  });

  it("heartbeats round-trip on core NATS", async () => {
    const got: HeartbeatEvent[] = [];
    const sub = await bus.subscribeHeartbeats((e) => void got.push(e));
    await raw.flush();
    const hb: Heartbeat = {
      schema_version: SCHEMA_VERSION,
      component: "beat",
      instance_id: "i-1",
      version: "1.0.0",
      sent_at: new Date().toISOString(),
      in_flight: 0,
    };
    await waitFor(
      "heartbeat",
      async () => {
        await bus.publishHeartbeat(hb);
        return got.some((e) => e.kind === "heartbeat");
      },
      5_000,
      100,
    );
    raw.publish("tessera.heartbeat.beat", utf8.encode("{}"));
    await waitFor("invalid heartbeat", () => got.some((e) => e.kind === "invalid"));
    expect(got.find((e) => e.kind === "heartbeat")).toEqual({ kind: "heartbeat", heartbeat: hb });
    await sub.stop();
    await sub.closed;
  });
});

describe("jetstream bus: payloads", () => {
  it("round-trips 5 MB, enforces size and ownership, deletes", async () => {
    const big = new Uint8Array(5 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const ref = await bus.payloads.put("job-big", big);
    expect(ref.object_ref.startsWith("job-big/")).toBe(true);
    expect(ref.byte_size).toBe(big.length);
    const back = await bus.payloads.get(ref, { jobId: "job-big", maxBytes: 8 * 1024 * 1024 });
    expect(back.byteLength).toBe(big.length);
    expect(Buffer.from(back).equals(Buffer.from(big))).toBe(true);

    await expect(bus.payloads.get(ref, { jobId: "job-big", maxBytes: 1024 })).rejects.toBeInstanceOf(
      PayloadTooLargeError,
    );
    // A ref that understates its size is still cut off while reading.
    await expect(
      bus.payloads.get({ ...ref, byte_size: 10 }, { jobId: "job-big", maxBytes: 1024 }),
    ).rejects.toBeInstanceOf(PayloadTooLargeError);
    await expect(bus.payloads.get(ref, { jobId: "other-job", maxBytes: 8 * 1024 * 1024 })).rejects.toBeInstanceOf(
      PayloadNotOwnedError,
    );
    await expect(bus.payloads.delete(ref, { jobId: "other-job" })).rejects.toBeInstanceOf(PayloadNotOwnedError);

    await expect(bus.payloads.put("job-big", big, { maxBytes: 1024 })).rejects.toBeInstanceOf(PayloadTooLargeError);
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 10; i++) yield new Uint8Array(300 * 1024);
    }
    await expect(bus.payloads.put("job-big", chunks(), { maxBytes: 1024 * 1024 })).rejects.toBeInstanceOf(
      PayloadTooLargeError,
    );
    const streamed = await bus.payloads.put("job-big", chunks());
    expect(streamed.byte_size).toBe(3000 * 1024);

    expect(await bus.payloads.delete(ref, { jobId: "job-big" })).toBe(true);
    expect(await bus.payloads.delete(ref, { jobId: "job-big" })).toBe(false);
    await expect(bus.payloads.get(ref, { jobId: "job-big", maxBytes: 8 * 1024 * 1024 })).rejects.toBeInstanceOf(
      PayloadMissingError,
    );
  });

  it("the payload bucket expires objects (max_age = payloadTtlMs)", async () => {
    const jsm = await jetstreamManager(raw);
    const si = await jsm.streams.info(`OBJ_${PAYLOAD_BUCKET}`);
    expect(si.config.max_age).toBe(nanos(PAYLOAD_TTL_MS));
  });
});

describe("jetstream bus: server restart", () => {
  it("loses nothing when the server restarts mid-consumption", async () => {
    const c = await component("restart", { ackWaitMs: 1_000, maxDeliver: 20 });
    const before = Array.from({ length: 20 }, (_, i) => job(c, `before-${i}`));
    for (const j of before) await bus.publishJob(j);
    const acked = new Set<string>();
    await consume(c, 2, async (d) => {
      await sleep(40);
      acked.add(d.dedupKey ?? "?");
      d.ack();
    });
    await waitFor("some acked", () => acked.size >= 4);
    await nats.restart();
    await waitFor("reconnected", () => bus.isConnected(), 15_000);
    const after = Array.from({ length: 10 }, (_, i) => job(c, `after-${i}`));
    for (const j of after) await bus.publishJob(j);
    await waitFor("all acked", () => [...before, ...after].every((j) => acked.has(j.job_id)), 20_000);
    await waitFor("queue empty", async () => (await bus.queueDepth(c)).total === 0, 10_000);
  });
});

describe("jetstream bus: close", () => {
  it("close is idempotent and later calls reject with BusClosedError", async () => {
    const b = await connectJetStreamBus({ servers: nats.url });
    expect(b.isConnected()).toBe(true);
    await b.close();
    await b.close();
    expect(b.isConnected()).toBe(false);
    await expect(b.publishJob(job("pub"))).rejects.toBeInstanceOf(BusClosedError);
    await expect(b.getResult("x", "y")).rejects.toBeInstanceOf(BusClosedError);
    await expect(
      b.payloads.get({ object_ref: "a/b", byte_size: 1 }, { jobId: "a", maxBytes: 10 }),
    ).rejects.toBeInstanceOf(BusClosedError);
  });
});
