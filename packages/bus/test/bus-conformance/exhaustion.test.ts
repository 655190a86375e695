import type { ExhaustedDelivery } from "@tessera/bus";
import { sleep, waitFor } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, makeJob, settings, uniqueComponent, type BackendUnderTest } from "./backends.js";

describe.each(backends)("[$name] max-delivery exhaustion and the DLQ", (backend) => {
  let env: BackendUnderTest;
  const events: ExhaustedDelivery[] = [];
  let failNext = 0;
  beforeAll(async () => {
    env = await backend.setup();
  });
  afterAll(async () => env.teardown());

  async function exhaust(c: string, jobId: string): Promise<void> {
    await env.bus.ensureComponent(settings(c, { maxDeliver: 2 }));
    await env.bus.publishJob(makeJob(c, { job_id: jobId }));
    let deliveries = 0;
    const sub = await env.bus.consumeJobs(c, { maxInFlight: 1 }, (d) => {
      deliveries++;
      d.nak(0);
    });
    await waitFor("two deliveries", () => deliveries === 2, 10_000);
    await sleep(300);
    await sub.stop();
    expect(deliveries).toBe(2);
  }

  it("records exhaustion while nobody observes, keeps the job stored but undelivered, and reports it once observed", async () => {
    const c = uniqueComponent();
    await exhaust(c, `${c}-poison`);
    expect((await env.bus.queueDepth(c)).total).toBe(0);
    // The first observation fails: the event must come back.
    failNext = 1;
    const sub = await env.bus.observeExhausted((e) => {
      if (failNext > 0) {
        failNext--;
        throw new Error("coordinator hiccup");
      }
      events.push(e);
    });
    const event = await waitFor("the exhaustion event", () => events.find((e) => e.component === c), 15_000);
    expect(event).toMatchObject({ component: c, deliveries: 2, dedupKey: `${c}-poison` });
    expect(JSON.parse(new TextDecoder().decode(event.data)).job_id).toBe(`${c}-poison`);
    await sleep(500);
    expect(events.filter((e) => e.component === c)).toHaveLength(1);

    await env.bus.deadLetter(event, { reasonCode: "dead_lettered", reasonDetail: "exhausted\nafter 2 deliveries" });
    await env.bus.deadLetter(event, { reasonCode: "dead_lettered", reasonDetail: "exhausted\nafter 2 deliveries" });
    const letters = await env.bus.listDeadLetters(c);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ component: c, jobId: `${c}-poison`, streamSeq: event.streamSeq, deliveries: 2, reasonCode: "dead_lettered", reasonDetail: "exhausted\nafter 2 deliveries" });
    expect(new TextDecoder().decode(letters[0]?.data)).toBe(new TextDecoder().decode(event.data));
    // Gone from the stream: removing it again finds nothing.
    expect(await env.bus.removeJob(c, event.streamSeq)).toBe(false);
    await sub.stop();
  });

  it("reports exhaustion to a live observer", async () => {
    const c = uniqueComponent();
    const sub = await env.bus.observeExhausted((e) => void events.push(e));
    await exhaust(c, `${c}-live`);
    await waitFor("the exhaustion event", () => events.find((e) => e.component === c), 15_000);
    await sub.stop();
  });

  it("publishDeadLetter records a delivery with no job id", async () => {
    const c = uniqueComponent();
    await env.bus.ensureComponent(settings(c));
    await env.bus.publishDeadLetter({
      component: c,
      jobId: undefined,
      streamSeq: 7,
      deliveries: 1,
      reasonCode: "invalid_envelope",
      reasonDetail: "invalid Job: (root): expected a UTF-8 JSON document",
      data: new Uint8Array([1, 2, 3]),
      deadLetteredAt: new Date().toISOString(),
    });
    const letters = await env.bus.listDeadLetters(c);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ jobId: undefined, streamSeq: 7, reasonCode: "invalid_envelope" });
    expect([...(letters[0]?.data ?? [])]).toEqual([1, 2, 3]);
  });

  it("removeJob deletes one stored job by sequence", async () => {
    const c = uniqueComponent();
    await env.bus.ensureComponent(settings(c));
    const ack = await env.bus.publishJob(makeJob(c));
    expect(await env.bus.removeJob(c, ack.seq)).toBe(true);
    expect(await env.bus.removeJob(c, ack.seq)).toBe(false);
    expect((await env.bus.queueDepth(c)).total).toBe(0);
  });
});
