import type { ExhaustedDelivery, JobDelivery } from "@tessera/bus";
import { sleep, waitFor } from "@tessera/testkit";
import { describe, expect, it } from "vitest";
import { backends } from "./backends.js";
import { busSettings, makeJob, text, uniqueComponent } from "./fixtures.js";
import { useBackend, type Harness } from "./harness.js";

/**
 * Publishes one job to a fresh component with maxDeliver 2 and naks both deliveries. The subscription
 * stays until the job has left both pending and ack-pending: on JetStream exhaustion is noticed when the
 * consumer next tries to deliver, so a worker must be pulling (docs/contract.md, documented differences).
 */
async function exhaust(h: Harness): Promise<{ component: string; jobId: string; seq: number; bytes: string }> {
  const component = uniqueComponent();
  await h.bus.ensureComponent(busSettings(component, { maxDeliver: 2 }));
  const job = makeJob(component);
  const { seq } = await h.bus.publishJob(job);
  const counts: number[] = [];
  let bytes = "";
  const sub = await h.track(
    h.bus.consumeJobs(component, { maxInFlight: 1 }, (d) => {
      counts.push(d.deliveryCount);
      bytes = text(d.data);
      d.nak();
    }),
  );
  await waitFor(
    "two deliveries and an exhausted job",
    async () => counts.length === 2 && (await h.bus.queueDepth(component)).total === 0,
    10_000,
  );
  await sleep(300);
  await sub.stop();
  expect(counts).toEqual([1, 2]);
  return { component, jobId: job.job_id, seq, bytes };
}

describe.each(backends)("[$name] max-delivery exhaustion and dead letters", (backend) => {
  const h = useBackend(backend);

  it("an exhausted job is neither pending nor redelivered, and is reported to an observer that arrives later, with its bytes", async () => {
    const x = await exhaust(h);
    expect(await h.bus.queueDepth(x.component)).toEqual({ pending: 0, ackPending: 0, total: 0 });
    const events: ExhaustedDelivery[] = [];
    await h.track(
      h.bus.observeExhausted((e) => {
        if (e.component === x.component) events.push(e);
      }),
    );
    await waitFor("the exhaustion event", () => events.length === 1, 15_000);
    const [event] = events;
    expect(event).toMatchObject({ component: x.component, streamSeq: x.seq, deliveries: 2, dedupKey: x.jobId });
    // Read from the stream at observation time: the job is still stored.
    expect(text(event?.data)).toBe(x.bytes);
    await sleep(500);
    expect(events).toHaveLength(1);
  });

  it("an exhaustion event whose handler throws comes again; once handled it is not reported again", async () => {
    const x = await exhaust(h);
    let calls = 0;
    const first = await h.bus.observeExhausted((e) => {
      if (e.component !== x.component) return;
      calls++;
      if (calls === 1) throw new Error("coordinator hiccup");
    });
    await waitFor("the event a second time", () => calls === 2, 15_000);
    await sleep(500);
    expect(calls).toBe(2);
    await first.stop();
    const later: ExhaustedDelivery[] = [];
    await h.track(
      h.bus.observeExhausted((e) => {
        if (e.component === x.component) later.push(e);
      }),
    );
    await sleep(800);
    expect(later).toHaveLength(0);
  });

  it("a live observer sees a job exhausted by ack-wait expiry after exactly maxDeliver deliveries", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c, { maxDeliver: 2, ackWaitMs: 400 }));
    const events: ExhaustedDelivery[] = [];
    await h.track(
      h.bus.observeExhausted((e) => {
        if (e.component === c) events.push(e);
      }),
    );
    const job = makeJob(c);
    const { seq } = await h.bus.publishJob(job);
    const counts: number[] = [];
    await h.track(h.bus.consumeJobs(c, { maxInFlight: 5 }, (d) => void counts.push(d.deliveryCount))); // never settles
    await waitFor("the exhaustion event", () => events.length === 1, 15_000);
    expect(events[0]).toMatchObject({ component: c, streamSeq: seq, deliveries: 2, dedupKey: job.job_id });
    await sleep(900);
    expect(counts).toEqual([1, 2]);
    expect((await h.bus.queueDepth(c)).total).toBe(0);
  });

  it("a nak(delay) on the last delivery exhausts the job only once the delay has passed", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c, { maxDeliver: 1 }));
    const events: Array<{ event: ExhaustedDelivery; at: number }> = [];
    await h.track(
      h.bus.observeExhausted((e) => {
        if (e.component === c) events.push({ event: e, at: Date.now() });
      }),
    );
    await h.bus.publishJob(makeJob(c));
    let nakedAt = 0;
    await h.track(
      h.bus.consumeJobs(c, { maxInFlight: 1 }, (d) => {
        nakedAt = Date.now();
        d.nak(800);
      }),
    );
    await waitFor("the delivery", () => nakedAt > 0);
    await sleep(300);
    expect(await h.bus.queueDepth(c)).toEqual({ pending: 0, ackPending: 1, total: 1 });
    await waitFor("the exhaustion event", () => events.length === 1, 15_000);
    expect((events[0]?.at ?? 0) - nakedAt).toBeGreaterThanOrEqual(750);
    expect(events[0]?.event.deliveries).toBe(1);
    expect((await h.bus.queueDepth(c)).total).toBe(0);
  });

  it("deadLetter stores a DeadLetter with the reason and removes the job; a second call changes nothing", async () => {
    const x = await exhaust(h);
    const events: ExhaustedDelivery[] = [];
    await h.track(
      h.bus.observeExhausted((e) => {
        if (e.component === x.component) events.push(e);
      }),
    );
    const event = await waitFor("the exhaustion event", () => events[0], 15_000);
    const reason = { reasonCode: "dead_lettered", reasonDetail: "exhausted after 2 deliveries\n\u0000last: boom" };
    await h.bus.deadLetter(event, reason);
    await h.bus.deadLetter(event, reason);
    const letters = await h.bus.listDeadLetters(x.component);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      component: x.component,
      jobId: x.jobId,
      streamSeq: x.seq,
      deliveries: 2,
      reasonCode: "dead_lettered",
      reasonDetail: "exhausted after 2 deliveries\nlast: boom", // sanitized: control characters stripped
    });
    expect(text(letters[0]?.data)).toBe(x.bytes);
    expect(Number.isNaN(Date.parse(letters[0]?.deadLetteredAt ?? ""))).toBe(false);
    // Gone from the job stream.
    expect(await h.bus.removeJob(x.component, x.seq)).toBe(false);
    expect((await h.bus.queueDepth(x.component)).total).toBe(0);
  });

  it("deadLetter reads the job from the stream when the event carries no bytes", async () => {
    const x = await exhaust(h);
    await h.bus.deadLetter(
      { component: x.component, streamSeq: x.seq, deliveries: 2, data: undefined, dedupKey: undefined },
      { reasonCode: "dead_lettered" },
    );
    const letters = await h.bus.listDeadLetters(x.component);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      jobId: x.jobId,
      streamSeq: x.seq,
      reasonCode: "dead_lettered",
      reasonDetail: "",
    });
    expect(text(letters[0]?.data)).toBe(x.bytes);
    expect(await h.bus.removeJob(x.component, x.seq)).toBe(false);
  });

  it("publishDeadLetter records a delivery that has no job id; the same letter twice is stored once; oldest first", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c));
    const letter = {
      component: c,
      jobId: undefined,
      streamSeq: 7,
      deliveries: 1,
      reasonCode: "invalid_envelope",
      reasonDetail: "invalid Job: (root): expected a UTF-8 JSON document",
      data: new Uint8Array([0xff, 1, 2]),
      deadLetteredAt: new Date().toISOString(),
    };
    await h.bus.publishDeadLetter(letter);
    await h.bus.publishDeadLetter(letter);
    await h.bus.publishDeadLetter({ ...letter, streamSeq: 8, jobId: "j-8", data: new Uint8Array([8]) });
    const letters = await h.bus.listDeadLetters(c);
    expect(letters.map((l) => [l.streamSeq, l.jobId, l.reasonCode, [...l.data]])).toEqual([
      [7, undefined, "invalid_envelope", [0xff, 1, 2]],
      [8, "j-8", "invalid_envelope", [8]],
    ]);
    expect(letters[0]).toMatchObject({
      component: c,
      deliveries: 1,
      reasonDetail: letter.reasonDetail,
      deadLetteredAt: letter.deadLetteredAt,
    });
    expect(await h.bus.listDeadLetters(uniqueComponent("never"))).toEqual([]);
  });

  it("removeJob deletes one stored job by sequence: true once, then false; it is never delivered", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c));
    const removed = await h.bus.publishJob(makeJob(c));
    const kept = await h.bus.publishJob(makeJob(c));
    expect(await h.bus.removeJob(c, removed.seq)).toBe(true);
    expect(await h.bus.removeJob(c, removed.seq)).toBe(false);
    expect(await h.bus.removeJob(c, 9_999)).toBe(false);
    expect(await h.bus.queueDepth(c)).toEqual({ pending: 1, ackPending: 0, total: 1 });
    const got: JobDelivery[] = [];
    await h.track(
      h.bus.consumeJobs(c, { maxInFlight: 5 }, (d) => {
        got.push(d);
        d.ack();
      }),
    );
    await waitFor("the kept job", () => got.length === 1);
    await sleep(300);
    expect(got.map((d) => d.streamSeq)).toEqual([kept.seq]);
  });
});
