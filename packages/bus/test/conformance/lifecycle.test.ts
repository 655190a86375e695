import { BusClosedError, type Subscription } from "@tessera/bus";
import { describe, expect, it } from "vitest";
import { backends } from "./backends.js";
import { busSettings, makeJob, makeResult, uniqueComponent, uniqueJobId } from "./fixtures.js";

describe.each(backends)("[$name] lifecycle", (backend) => {
  it("close() ends every subscription and every later call rejects with BusClosedError", async () => {
    // Its own environment: this test closes its bus.
    const env = await backend.setup();
    try {
      const { bus } = env;
      const c = uniqueComponent();
      await bus.ensureComponent(busSettings(c));
      const ref = await bus.payloads.put("j-1", new Uint8Array([1]));
      expect(bus.isConnected()).toBe(true);
      const subs: Subscription[] = [
        await bus.consumeJobs(c, { maxInFlight: 1 }, (d) => d.ack()),
        await bus.consumeResults(() => undefined),
        await bus.observeExhausted(() => undefined),
        await bus.subscribeHeartbeats(() => undefined),
      ];
      await bus.close();
      await bus.close(); // idempotent
      await Promise.all(subs.map((s) => s.closed));
      expect(bus.isConnected()).toBe(false);
      const calls: Array<[string, () => Promise<unknown>]> = [
        ["ensureComponent", () => bus.ensureComponent(busSettings(c))],
        ["publishJob", () => bus.publishJob(makeJob(c))],
        ["publishRawJob", () => bus.publishRawJob(c, new Uint8Array([1]))],
        ["consumeJobs", () => bus.consumeJobs(c, { maxInFlight: 1 }, () => undefined)],
        ["queueDepth", () => bus.queueDepth(c)],
        ["removeJob", () => bus.removeJob(c, 1)],
        ["publishResult", () => bus.publishResult(makeResult(c, uniqueJobId()))],
        ["getResult", () => bus.getResult(c, "x")],
        ["consumeResults", () => bus.consumeResults(() => undefined)],
        ["listDeadLetters", () => bus.listDeadLetters(c)],
        ["payloads.put", () => bus.payloads.put("j-1", new Uint8Array([1]))],
        ["payloads.get", () => bus.payloads.get(ref, { jobId: "j-1", maxBytes: 10 })],
      ];
      for (const [name, call] of calls) {
        await expect(call(), name).rejects.toBeInstanceOf(BusClosedError);
      }
    } finally {
      await env.teardown();
    }
  });
});
