import type { HeartbeatEvent, ResultEvent } from "@tessera/bus";
import { ContractValidationError, heartbeatSubject, resultSubject, type Heartbeat } from "@tessera/contract";
import { sleep, waitFor } from "@tessera/testkit";
import { describe, expect, it } from "vitest";
import { backends } from "./backends.js";
import { bytes, makeResult, uniqueComponent, uniqueJobId } from "./fixtures.js";
import { useBackend } from "./harness.js";

const resultsOf = (component: string, into: string[]) => (e: ResultEvent) => {
  if (e.kind === "result" && e.result.component === component) into.push(`${e.result.job_id}:${e.result.status}`);
};

describe.each(backends)("[$name] results", (backend) => {
  const h = useBackend(backend);

  it("stores Results durably: those published before anyone consumes are delivered; getResult reads the latest", async () => {
    const c = uniqueComponent();
    const [a, b] = [uniqueJobId(), uniqueJobId()];
    await h.bus.publishResult(makeResult(c, a));
    await h.bus.publishResult(
      makeResult(c, b, { status: "failed", reason_code: "bad_input", reason_detail: "line 1\n\u0007line 2" }),
    );
    expect(await h.bus.getResult(c, a)).toMatchObject({
      job_id: a,
      component: c,
      status: "completed",
      output: { data: { ok: true } },
    });
    expect(await h.bus.getResult(c, b)).toMatchObject({
      status: "failed",
      reason_code: "bad_input",
      reason_detail: "line 1\nline 2",
    });
    expect(await h.bus.getResult(c, uniqueJobId("never"))).toBeUndefined();
    expect(await h.bus.getResult(uniqueComponent("other"), a)).toBeUndefined();
    // A later Result of another status is the latest one (a redrive that then completed).
    await h.bus.publishResult(makeResult(c, b, { attempt: 2 }));
    expect(await h.bus.getResult(c, b)).toMatchObject({ status: "completed", attempt: 2 });

    const seen: string[] = [];
    await h.track(h.bus.consumeResults(resultsOf(c, seen)));
    await waitFor("the three stored Results", () => seen.length === 3, 10_000);
    expect(seen.sort()).toEqual([`${a}:completed`, `${b}:completed`, `${b}:failed`].sort());
  });

  it("a handler that throws gets the Result again; handled Results are not delivered to a later consumer", async () => {
    const c = uniqueComponent();
    const [a, b] = [uniqueJobId(), uniqueJobId()];
    const seen: string[] = [];
    let failed = false;
    const first = await h.bus.consumeResults((e) => {
      if (e.kind !== "result" || e.result.component !== c) return;
      if (e.result.job_id === b && !failed) {
        failed = true;
        throw new Error("db down");
      }
      seen.push(e.result.job_id);
    });
    await h.bus.publishResult(makeResult(c, a));
    await h.bus.publishResult(makeResult(c, b));
    await waitFor("both Results, one of them twice", () => seen.length === 2, 10_000);
    expect(failed).toBe(true);
    expect(seen.sort()).toEqual([a, b].sort());
    await sleep(300);
    await first.stop();

    // The coordinator's durable consumer remembers what it handled, across subscriptions and clients.
    const other = await h.newBus();
    const again: string[] = [];
    await h.track(other.consumeResults(resultsOf(c, again)));
    const d = uniqueJobId();
    await h.bus.publishResult(makeResult(c, d));
    await waitFor("the new Result", () => again.length === 1, 10_000);
    await sleep(500);
    expect(again).toEqual([`${d}:completed`]);
  });

  it("deduplicates a Result published again (a retried publish: same job, status and finished_at)", async () => {
    const c = uniqueComponent();
    const id = uniqueJobId();
    const seen: string[] = [];
    await h.track(h.bus.consumeResults(resultsOf(c, seen)));
    const result = makeResult(c, id, { attempt: 1 });
    await h.bus.publishResult(result);
    await h.bus.publishResult({ ...result });
    await waitFor("the Result", () => seen.length === 1, 10_000);
    await sleep(500);
    expect(seen).toEqual([`${id}:completed`]);
    expect(await h.bus.getResult(c, id)).toMatchObject({ attempt: 1 });
  });

  it("stores the Result of a later run of the same job (a redrive that failed again)", async () => {
    const c = uniqueComponent();
    const id = uniqueJobId();
    const seen: string[] = [];
    await h.track(h.bus.consumeResults(resultsOf(c, seen)));
    const failed = { status: "failed", reason_code: "bad_input" } as const;
    await h.bus.publishResult(
      makeResult(c, id, { ...failed, output: undefined, finished_at: "2026-11-23T10:00:00.000Z" }),
    );
    await h.bus.publishResult(
      makeResult(c, id, { ...failed, output: undefined, attempt: 1, finished_at: "2026-11-23T10:00:30.000Z" }),
    );
    await waitFor("both Results", () => seen.length === 2, 10_000);
    expect(await h.bus.getResult(c, id)).toMatchObject({ finished_at: "2026-11-23T10:00:30.000Z" });
  });

  it("keeps the Results of one job id in two components apart", async () => {
    // A pipeline may carry one job_id through several stages (components), each with its own Result.
    const [c1, c2] = [uniqueComponent(), uniqueComponent()];
    const id = uniqueJobId();
    await h.bus.publishResult(makeResult(c1, id, { output: { data: { stage: 1 } } }));
    await h.bus.publishResult(makeResult(c2, id, { output: { data: { stage: 2 } } }));
    expect(await h.bus.getResult(c1, id)).toMatchObject({ component: c1, output: { data: { stage: 1 } } });
    expect(await h.bus.getResult(c2, id)).toMatchObject({ component: c2, output: { data: { stage: 2 } } });
  });

  it("refuses an invalid Result", async () => {
    const c = uniqueComponent();
    const id = uniqueJobId();
    await expect(h.bus.publishResult({ ...makeResult(c, id), status: "failed" })).rejects.toBeInstanceOf(
      ContractValidationError,
    );
    await expect(h.bus.publishResult({ ...makeResult(c, id), reason_code: "Not A Code" })).rejects.toBeInstanceOf(
      ContractValidationError,
    );
    expect(await h.bus.getResult(c, id)).toBeUndefined();
  });

  // Only a backend with a wire can carry bytes that did not come through publishResult.
  it.runIf(backend.hasWire)(
    "passes bytes on a Results subject that are not a Result as `invalid`, and acks them even if the handler throws",
    async () => {
      const c = uniqueComponent();
      const id = uniqueJobId();
      const subject = resultSubject(c, id);
      await h.bus.publishResult(makeResult(uniqueComponent(), uniqueJobId())); // makes sure the Results stream exists
      await h.wire?.publish(subject, bytes("{not json"), { jetstream: true });
      const invalid: Array<{ subject: string; data: string }> = [];
      await h.track(
        h.bus.consumeResults((e) => {
          if (e.kind === "invalid" && e.subject === subject) {
            invalid.push({ subject: e.subject, data: new TextDecoder().decode(e.data) });
            expect(e.error).toBeInstanceOf(ContractValidationError);
            throw new Error("the handler cannot make sense of it either");
          }
        }),
      );
      await waitFor("the invalid message", () => invalid.length === 1, 10_000);
      await sleep(1_000);
      expect(invalid).toEqual([{ subject, data: "{not json" }]);
    },
  );
});

describe.each(backends)("[$name] heartbeats", (backend) => {
  const h = useBackend(backend);
  const beat = (component: string, over: Partial<Heartbeat> = {}): Heartbeat => ({
    schema_version: 1,
    component,
    instance_id: "i-1",
    version: "1.2.3",
    sent_at: new Date().toISOString(),
    in_flight: 2,
    ...over,
  });

  it("delivers heartbeats to every subscriber present; stop() ends delivery", async () => {
    const c = uniqueComponent();
    const a: HeartbeatEvent[] = [];
    const b: HeartbeatEvent[] = [];
    const subA = await h.track(h.bus.subscribeHeartbeats((e) => void a.push(e)));
    const other = await h.newBus();
    await h.track(other.subscribeHeartbeats((e) => void b.push(e)));
    const mine = (list: HeartbeatEvent[]) => list.filter((e) => e.kind === "heartbeat" && e.heartbeat.component === c);
    await h.bus.publishHeartbeat(beat(c));
    await waitFor("the beat at both subscribers", () => mine(a).length === 1 && mine(b).length === 1);
    expect(mine(a)[0]).toEqual({
      kind: "heartbeat",
      heartbeat: beat(c, { sent_at: (mine(a)[0] as { heartbeat: Heartbeat }).heartbeat.sent_at }),
    });
    await subA.stop();
    await subA.closed;
    await h.bus.publishHeartbeat(beat(c, { in_flight: 0 }));
    await waitFor("the second beat at the remaining subscriber", () => mine(b).length === 2);
    await sleep(200);
    expect(mine(a)).toHaveLength(1);
  });

  it("refuses an invalid heartbeat", async () => {
    await expect(h.bus.publishHeartbeat({ ...beat(uniqueComponent()), in_flight: -1 })).rejects.toBeInstanceOf(
      ContractValidationError,
    );
  });

  it.runIf(backend.hasWire)("passes bytes on a heartbeat subject that are not a Heartbeat as `invalid`", async () => {
    const c = uniqueComponent();
    const events: HeartbeatEvent[] = [];
    await h.track(h.bus.subscribeHeartbeats((e) => void events.push(e)));
    await h.wire?.publish(heartbeatSubject(c), bytes("garbage"));
    const got = await waitFor("the invalid beat", () =>
      events.find((e) => e.kind === "invalid" && e.subject === heartbeatSubject(c)),
    );
    expect(got.kind === "invalid" && got.error).toBeInstanceOf(ContractValidationError);
  });
});
