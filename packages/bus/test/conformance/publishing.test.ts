import { BusNotProvisionedError, type JobDelivery } from "@tessera/bus";
import { ContractValidationError, decodeJob } from "@tessera/contract";
import { sleep, waitFor } from "@tessera/testkit";
import { describe, expect, it } from "vitest";
import { backends } from "./backends.js";
import { busSettings, makeJob, uniqueComponent } from "./fixtures.js";
import { useBackend } from "./harness.js";

describe.each(backends)("[$name] publishing", (backend) => {
  const h = useBackend(backend);

  it("publishJob deduplicates by job_id within the window: a repeat answers duplicate with the original seq", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c));
    const job = makeJob(c);
    const first = await h.bus.publishJob(job);
    expect(first.duplicate).toBe(false);
    expect(await h.bus.publishJob(job)).toEqual({ seq: first.seq, duplicate: true });
    expect(await h.bus.publishJob({ ...job, input: { inline: "changed" } })).toEqual({
      seq: first.seq,
      duplicate: true,
    });
    const other = await h.bus.publishJob(makeJob(c));
    expect(other).toEqual({ seq: first.seq + 1, duplicate: false });
    // A redrive publishes the same job under a fresh key, which the window does not swallow.
    const redrive = await h.bus.publishJob(job, { dedupKey: `${job.job_id}:redrive:1` });
    expect(redrive).toEqual({ seq: other.seq + 1, duplicate: false });
    expect(await h.bus.publishJob(job, { dedupKey: `${job.job_id}:redrive:1` })).toEqual({
      seq: redrive.seq,
      duplicate: true,
    });
    expect(await h.bus.queueDepth(c)).toEqual({ pending: 3, ackPending: 0, total: 3 });
  });

  it("a key is a duplicate within the duplicate window and a new message after it", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c, { duplicateWindowMs: 1_000 }));
    const job = makeJob(c);
    const first = await h.bus.publishJob(job);
    await sleep(400);
    expect(await h.bus.publishJob(job)).toEqual({ seq: first.seq, duplicate: true });
    const started = Date.now();
    const again = await waitFor(
      "the key to leave the 1 s window",
      async () => {
        const ack = await h.bus.publishJob(job);
        return ack.duplicate ? undefined : ack;
      },
      10_000,
      100,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(400); // not before the window closed
    expect(again.seq).toBeGreaterThan(first.seq);
    expect((await h.bus.queueDepth(c)).pending).toBe(2);
  });

  it("publishJob validates the Job and stores nothing invalid", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c));
    await expect(h.bus.publishJob({ ...makeJob(c), limits: { max_bytes: 0, wall_clock: 1 } })).rejects.toBeInstanceOf(
      ContractValidationError,
    );
    await expect(
      h.bus.publishJob({
        ...makeJob(c),
        input: { inline: 1, source_locator: { source_url: "https://example.com/x" } },
      }),
    ).rejects.toBeInstanceOf(ContractValidationError);
    await expect(h.bus.publishJob({ ...makeJob(c), job_id: "has space" })).rejects.toBeInstanceOf(
      ContractValidationError,
    );
    expect((await h.bus.queueDepth(c)).total).toBe(0);
  });

  it("delivers a published Job's envelope with its dedup key, seq, publish time and the consumer's ack wait", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c, { ackWaitMs: 7_000 }));
    const job = makeJob(c, { metadata: { tenant: "t-1" } });
    const before = Date.now();
    const ack = await h.bus.publishJob(job);
    const after = Date.now();
    const got: JobDelivery[] = [];
    await h.track(
      h.bus.consumeJobs(c, { maxInFlight: 1 }, (d) => {
        got.push(d);
        d.ack();
      }),
    );
    const d = await waitFor("the delivery", () => got[0]);
    const decoded = decodeJob(d.data);
    expect(decoded.ok && decoded.value).toEqual(job);
    expect(d).toMatchObject({
      component: c,
      dedupKey: job.job_id,
      deliveryCount: 1,
      streamSeq: ack.seq,
      ackWaitMs: 7_000,
    });
    // Stamped by the store when it stored the job (the server's clock on jetstream: same machine).
    expect(d.publishedAt).toBeGreaterThanOrEqual(before - 1_000);
    expect(d.publishedAt).toBeLessThanOrEqual(after + 1_000);
  });

  it("publishRawJob passes the bytes unchanged, with or without a dedup key", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c));
    const raw = new Uint8Array([0xff, 0x00, 0x7b, 0x0a]);
    const keyed = await h.bus.publishRawJob(c, raw, { dedupKey: "raw-1" });
    expect(await h.bus.publishRawJob(c, raw, { dedupKey: "raw-1" })).toEqual({ seq: keyed.seq, duplicate: true });
    // Without a key nothing is deduplicated.
    const plain1 = await h.bus.publishRawJob(c, raw);
    const plain2 = await h.bus.publishRawJob(c, raw);
    expect(plain1.duplicate || plain2.duplicate).toBe(false);
    raw[0] = 0; // the caller's buffer is theirs again once published
    const got: JobDelivery[] = [];
    await h.track(
      h.bus.consumeJobs(c, { maxInFlight: 5 }, (d) => {
        got.push(d);
        d.ack();
      }),
    );
    await waitFor("three deliveries", () => got.length === 3);
    got.sort((a, b) => a.streamSeq - b.streamSeq);
    for (const d of got) expect([...d.data]).toEqual([0xff, 0x00, 0x7b, 0x0a]);
    expect(got.map((d) => d.dedupKey)).toEqual(["raw-1", undefined, undefined]);
  });

  it("refuses to publish to, consume from or measure a component that was never provisioned", async () => {
    const c = uniqueComponent("missing");
    await expect(h.bus.publishJob(makeJob(c))).rejects.toBeInstanceOf(BusNotProvisionedError);
    await expect(h.bus.publishRawJob(c, new Uint8Array([1]))).rejects.toBeInstanceOf(BusNotProvisionedError);
    await expect(h.bus.consumeJobs(c, { maxInFlight: 1, bindOnly: true }, () => undefined)).rejects.toBeInstanceOf(
      BusNotProvisionedError,
    );
    await expect(h.bus.queueDepth(c)).rejects.toBeInstanceOf(BusNotProvisionedError);
  });

  it("ensureComponent is idempotent and applies changed settings; removeComponent drops the stream with its jobs", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c, { ackWaitMs: 30_000 }));
    const job = makeJob(c);
    await h.bus.publishJob(job);
    await h.bus.ensureComponent(busSettings(c, { ackWaitMs: 2_000 }));
    expect((await h.bus.queueDepth(c)).pending).toBe(1);
    const waits: number[] = [];
    const sub = await h.track(
      h.bus.consumeJobs(c, { maxInFlight: 1 }, (d) => {
        waits.push(d.ackWaitMs);
        d.ack();
      }),
    );
    await waitFor("the delivery", () => waits.length === 1);
    expect(waits).toEqual([2_000]);
    await sub.stop();

    await h.bus.publishJob(makeJob(c));
    await h.bus.removeComponent(c);
    await h.bus.removeComponent(c); // idempotent
    await expect(h.bus.publishJob(makeJob(c))).rejects.toBeInstanceOf(BusNotProvisionedError);
    await h.bus.ensureComponent(busSettings(c));
    expect(await h.bus.queueDepth(c)).toEqual({ pending: 0, ackPending: 0, total: 0 });
    // A new stream: the old one's dedup window went with it.
    expect((await h.bus.publishJob(job)).duplicate).toBe(false);
  });
});
