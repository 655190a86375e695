import type { JobDelivery } from "@tessera/bus";
import { sleep, waitFor } from "@tessera/testkit";
import { describe, expect, it } from "vitest";
import { backends } from "./backends.js";
import { busSettings, makeJob, uniqueComponent } from "./fixtures.js";
import { useBackend } from "./harness.js";

describe.each(backends)("[$name] delivering jobs", (backend) => {
  const h = useBackend(backend);

  it("ack removes the job; queueDepth counts never-delivered jobs as pending and unsettled ones as ack-pending", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c));
    for (let i = 0; i < 3; i++) await h.bus.publishJob(makeJob(c));
    expect(await h.bus.queueDepth(c)).toEqual({ pending: 3, ackPending: 0, total: 3 });
    const held: JobDelivery[] = [];
    await h.track(h.bus.consumeJobs(c, { maxInFlight: 2 }, (d) => void held.push(d)));
    await waitFor("two deliveries", () => held.length === 2);
    await waitFor("1 pending + 2 ack-pending", async () => {
      const depth = await h.bus.queueDepth(c);
      return depth.pending === 1 && depth.ackPending === 2 && depth.total === 3;
    });
    // A job waiting out a nak delay is still ack-pending (KEDA keeps counting it).
    held[0]?.nak(60_000);
    held[1]?.ack();
    await waitFor("the third delivery", () => held.length === 3);
    held[2]?.ack();
    await waitFor("only the nak'd job left, ack-pending", async () => {
      const depth = await h.bus.queueDepth(c);
      return depth.pending === 0 && depth.ackPending === 1 && depth.total === 1;
    });
  });

  it("delivers in publish order", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c));
    const seqs: number[] = [];
    for (let i = 0; i < 5; i++) seqs.push((await h.bus.publishJob(makeJob(c))).seq);
    const got: number[] = [];
    await h.track(
      h.bus.consumeJobs(c, { maxInFlight: 1 }, (d) => {
        got.push(d.streamSeq);
        d.ack();
      }),
    );
    await waitFor("five deliveries", () => got.length === 5);
    expect(got).toEqual(seqs);
  });

  it("redelivers a job not settled within the ack wait, with the next delivery count, no sooner than the ack wait", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c, { ackWaitMs: 500 }));
    await h.bus.publishJob(makeJob(c));
    const seen: Array<{ count: number; at: number }> = [];
    await h.track(
      h.bus.consumeJobs(c, { maxInFlight: 5 }, (d) => {
        seen.push({ count: d.deliveryCount, at: Date.now() });
        if (d.deliveryCount === 2) d.ack();
      }),
    );
    await waitFor("the redelivery", () => seen.length === 2, 10_000);
    expect(seen.map((s) => s.count)).toEqual([1, 2]);
    expect((seen[1]?.at ?? 0) - (seen[0]?.at ?? 0)).toBeGreaterThanOrEqual(450);
    await sleep(1_000);
    expect(seen).toHaveLength(2);
    expect((await h.bus.queueDepth(c)).total).toBe(0);
  });

  it("working() restarts the ack-wait clock: a job running for several ack waits is delivered once", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c, { ackWaitMs: 600 }));
    await h.bus.publishJob(makeJob(c));
    let deliveries = 0;
    let finished = false;
    await h.track(
      h.bus.consumeJobs(c, { maxInFlight: 5 }, async (d) => {
        deliveries++;
        for (let i = 0; i < 10; i++) {
          await sleep(150); // 1.5 s in all: two and a half ack waits
          d.working();
        }
        d.ack();
        finished = true;
      }),
    );
    await waitFor("the job to finish", () => finished, 10_000);
    await sleep(800);
    expect(deliveries).toBe(1);
    expect((await h.bus.queueDepth(c)).total).toBe(0);
  });

  it("nak(delay) redelivers no sooner than the delay; nak() redelivers without waiting for the ack wait", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c, { ackWaitMs: 20_000 }));
    const delayed = makeJob(c);
    const prompt = makeJob(c);
    await h.bus.publishJob(delayed);
    await h.bus.publishJob(prompt);
    const seen = new Map<string, Array<{ count: number; at: number }>>();
    await h.track(
      h.bus.consumeJobs(c, { maxInFlight: 5 }, (d) => {
        const list = seen.get(d.dedupKey ?? "") ?? [];
        list.push({ count: d.deliveryCount, at: Date.now() });
        seen.set(d.dedupKey ?? "", list);
        if (d.deliveryCount > 1) d.ack();
        else if (d.dedupKey === delayed.job_id) d.nak(700);
        else d.nak();
      }),
    );
    await waitFor(
      "both redeliveries",
      () => seen.get(delayed.job_id)?.length === 2 && seen.get(prompt.job_id)?.length === 2,
      10_000,
    );
    const [d1, d2] = seen.get(delayed.job_id) ?? [];
    expect(d2?.count).toBe(2);
    expect((d2?.at ?? 0) - (d1?.at ?? 0)).toBeGreaterThanOrEqual(650);
    expect(seen.get(prompt.job_id)?.map((s) => s.count)).toEqual([1, 2]);
  });

  it("term() removes the job: never redelivered", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c, { ackWaitMs: 400 }));
    await h.bus.publishJob(makeJob(c));
    let deliveries = 0;
    await h.track(
      h.bus.consumeJobs(c, { maxInFlight: 1 }, (d) => {
        deliveries++;
        d.term();
      }),
    );
    await waitFor("the delivery", () => deliveries === 1);
    await sleep(1_200); // three ack waits
    expect(deliveries).toBe(1);
    expect((await h.bus.queueDepth(c)).total).toBe(0);
  });

  it("a delivery settles once: the first of ack / nak / term wins, later calls are ignored", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c, { ackWaitMs: 400 }));
    const ackedFirst = makeJob(c);
    const nakedFirst = makeJob(c);
    await h.bus.publishJob(ackedFirst);
    await h.bus.publishJob(nakedFirst);
    const counts = new Map<string, number[]>();
    await h.track(
      h.bus.consumeJobs(c, { maxInFlight: 5 }, (d) => {
        counts.set(d.dedupKey ?? "", [...(counts.get(d.dedupKey ?? "") ?? []), d.deliveryCount]);
        if (d.dedupKey === ackedFirst.job_id) {
          d.ack();
          d.nak();
          d.term();
        } else if (d.deliveryCount === 1) {
          d.nak();
          d.ack();
          d.working();
        } else {
          d.ack();
        }
      }),
    );
    await waitFor("the nak'd job's redelivery", () => counts.get(nakedFirst.job_id)?.length === 2, 10_000);
    await sleep(1_000);
    expect(counts.get(ackedFirst.job_id)).toEqual([1]);
    expect(counts.get(nakedFirst.job_id)).toEqual([1, 2]);
    expect((await h.bus.queueDepth(c)).total).toBe(0);
  });

  it("a handler that throws or rejects is a nak(): the job comes back", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c, { ackWaitMs: 20_000 }));
    const throws = makeJob(c);
    const rejects = makeJob(c);
    await h.bus.publishJob(throws);
    await h.bus.publishJob(rejects);
    const counts = new Map<string, number[]>();
    await h.track(
      h.bus.consumeJobs(c, { maxInFlight: 5 }, async (d) => {
        counts.set(d.dedupKey ?? "", [...(counts.get(d.dedupKey ?? "") ?? []), d.deliveryCount]);
        if (d.deliveryCount > 1) return d.ack();
        if (d.dedupKey === throws.job_id) throw new Error("boom");
        await sleep(10);
        throw new Error("async boom");
      }),
    );
    // Well before the 20 s ack wait: it was the throw that sent the jobs back.
    await waitFor(
      "both redeliveries",
      () => counts.get(throws.job_id)?.length === 2 && counts.get(rejects.job_id)?.length === 2,
      8_000,
    );
    expect(counts.get(throws.job_id)).toEqual([1, 2]);
    expect(counts.get(rejects.job_id)).toEqual([1, 2]);
  });

  it("keeps at most maxInFlight deliveries unsettled per subscription", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c));
    for (let i = 0; i < 12; i++) await h.bus.publishJob(makeJob(c));
    let unsettled = 0;
    let peak = 0;
    let done = 0;
    await h.track(
      h.bus.consumeJobs(c, { maxInFlight: 3 }, async (d) => {
        unsettled++;
        peak = Math.max(peak, unsettled);
        await sleep(60);
        unsettled--;
        d.ack();
        done++;
      }),
    );
    await waitFor("all twelve", () => done === 12, 15_000);
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThanOrEqual(2);
  });

  it("a delivery past its ack wait keeps its subscription slot until it is settled", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c, { ackWaitMs: 400 }));
    const first = await h.bus.publishJob(makeJob(c));
    const second = await h.bus.publishJob(makeJob(c));
    const got: JobDelivery[] = [];
    let acking = false;
    await h.track(
      h.bus.consumeJobs(c, { maxInFlight: 1 }, (d) => {
        got.push(d);
        if (acking) d.ack();
      }),
    );
    await waitFor("the first delivery", () => got.length === 1);
    await sleep(1_300); // three ack waits: the first job is due again, but the only slot is taken
    expect(got).toHaveLength(1);
    acking = true;
    got[0]?.ack();
    await waitFor("an empty queue", async () => (await h.bus.queueDepth(c)).total === 0, 10_000);
    await sleep(600);
    expect(got.filter((d) => d.streamSeq === second.seq).map((d) => d.deliveryCount)).toEqual([1]);
    // On JetStream the late ack can race the first job's redelivery into the freed slot (acks are
    // processed asynchronously by the server); after that ack it is never delivered again.
    expect(got.filter((d) => d.streamSeq === first.seq).length).toBeLessThanOrEqual(2);
  });

  it("an ack from an expired delivery removes the job even while its redelivery is in flight", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c, { ackWaitMs: 400 }));
    await h.bus.publishJob(makeJob(c));
    const got: JobDelivery[] = [];
    await h.track(h.bus.consumeJobs(c, { maxInFlight: 2 }, (d) => void got.push(d)));
    await waitFor("the redelivery", () => got.length === 2, 10_000);
    expect(got.map((d) => d.deliveryCount)).toEqual([1, 2]);
    got[0]?.ack(); // the slow first run finished after all
    await waitFor("an empty queue", async () => (await h.bus.queueDepth(c)).total === 0);
    got[1]?.ack(); // acking a removed job is harmless
    await sleep(1_000);
    expect(got).toHaveLength(2);
  });

  it("two subscriptions share the queue: every job goes to exactly one of them", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c));
    const other = await h.newBus();
    const byKey = new Map<string, number>();
    const bySub = [0, 0];
    const handler = (i: number) => async (d: JobDelivery) => {
      byKey.set(d.dedupKey ?? "", (byKey.get(d.dedupKey ?? "") ?? 0) + 1);
      bySub[i]!++;
      await sleep(20);
      d.ack();
    };
    await h.track(h.bus.consumeJobs(c, { maxInFlight: 4 }, handler(0)));
    await h.track(other.consumeJobs(c, { maxInFlight: 4 }, handler(1)));
    await sleep(200);
    for (let i = 0; i < 40; i++) await h.bus.publishJob(makeJob(c));
    await waitFor("all forty", () => byKey.size === 40, 20_000);
    await sleep(400);
    expect([...byKey.values()].every((n) => n === 1)).toBe(true);
    // Four slots each and 20 ms per job: neither can have taken all forty.
    expect(bySub[0]).toBeGreaterThan(0);
    expect(bySub[1]).toBeGreaterThan(0);
    expect((await h.bus.queueDepth(c)).total).toBe(0);
  });

  it("stop() ends delivery (closed resolves); deliveries already handed out stay valid; the next consumer gets the rest", async () => {
    const c = uniqueComponent();
    await h.bus.ensureComponent(busSettings(c));
    await h.bus.publishJob(makeJob(c));
    const got: JobDelivery[] = [];
    const sub = await h.bus.consumeJobs(c, { maxInFlight: 2 }, (d) => void got.push(d));
    await waitFor("the delivery", () => got.length === 1);
    await sub.stop();
    await sub.closed;
    got[0]?.ack();
    await h.bus.publishJob(makeJob(c));
    await sleep(500);
    expect(got).toHaveLength(1);
    expect(await h.bus.queueDepth(c)).toEqual({ pending: 1, ackPending: 0, total: 1 });
    const later: JobDelivery[] = [];
    await h.track(
      h.bus.consumeJobs(c, { maxInFlight: 2 }, (d) => {
        later.push(d);
        d.ack();
      }),
    );
    await waitFor("the waiting job", () => later.length === 1);
    await waitFor("an empty queue", async () => (await h.bus.queueDepth(c)).total === 0);
  });
});
