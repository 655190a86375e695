import type { HeartbeatEvent, ResultEvent } from "@tessera/bus";
import { ContractValidationError, type Result } from "@tessera/contract";
import { sleep, waitFor } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, uniqueComponent, type BackendUnderTest } from "./backends.js";

const result = (component: string, jobId: string, over: Partial<Result> = {}): Result => ({
  schema_version: 1,
  job_id: jobId,
  component,
  status: "completed",
  attempt: 1,
  finished_at: new Date().toISOString(),
  output: { data: { ok: true } },
  ...over,
});

describe.each(backends)("[$name] results and heartbeats", (backend) => {
  let env: BackendUnderTest;
  beforeAll(async () => {
    env = await backend.setup();
  });
  afterAll(async () => env.teardown());

  it("stores Results durably: published before anyone consumes, delivered once consumed; a throw redelivers", async () => {
    const c = uniqueComponent();
    await env.bus.publishResult(result(c, "r1"));
    await env.bus.publishResult(result(c, "r2", { status: "failed", reason_code: "bad_input", reason_detail: "x\u0000y" }));
    expect(await env.bus.getResult(c, "r1")).toMatchObject({ job_id: "r1", status: "completed" });
    expect(await env.bus.getResult(c, "r2")).toMatchObject({ status: "failed", reason_detail: "xy" });
    expect(await env.bus.getResult(c, "nope")).toBeUndefined();

    const seen: string[] = [];
    let failedOnce = false;
    const sub = await env.bus.consumeResults((e: ResultEvent) => {
      if (e.kind !== "result" || e.result.component !== c) return;
      if (e.result.job_id === "r2" && !failedOnce) {
        failedOnce = true;
        throw new Error("db down");
      }
      seen.push(e.result.job_id);
    });
    await waitFor("both results", () => seen.length === 2, 10_000);
    expect(seen.sort()).toEqual(["r1", "r2"]);
    await sub.stop();

    // Acked results are not delivered again to the same durable consumer.
    const again: string[] = [];
    const sub2 = await env.bus.consumeResults((e) => {
      if (e.kind === "result" && e.result.component === c) again.push(e.result.job_id);
    });
    await env.bus.publishResult(result(c, "r3"));
    await waitFor("r3", () => again.includes("r3"), 10_000);
    await sleep(300);
    expect(again).toEqual(["r3"]);
    await sub2.stop();
  });

  it("deduplicates a repeated Result for the same job and status", async () => {
    const c = uniqueComponent();
    const seen: string[] = [];
    const sub = await env.bus.consumeResults((e) => {
      if (e.kind === "result" && e.result.component === c) seen.push(e.result.job_id);
    });
    await env.bus.publishResult(result(c, "dup"));
    await env.bus.publishResult(result(c, "dup"));
    await waitFor("the result", () => seen.length >= 1, 10_000);
    await sleep(400);
    expect(seen).toEqual(["dup"]);
    await sub.stop();
  });

  it("refuses an invalid Result", async () => {
    await expect(env.bus.publishResult({ ...result("c", "x"), status: "failed" })).rejects.toBeInstanceOf(ContractValidationError);
  });

  it("delivers heartbeats to subscribers", async () => {
    const c = uniqueComponent();
    const beats: HeartbeatEvent[] = [];
    const sub = await env.bus.subscribeHeartbeats((e) => void beats.push(e));
    await sleep(100);
    await env.bus.publishHeartbeat({ schema_version: 1, component: c, instance_id: "i-1", version: "1.2.3", sent_at: new Date().toISOString(), in_flight: 2 });
    const got = await waitFor("the heartbeat", () => beats.find((b) => b.kind === "heartbeat" && b.heartbeat.component === c));
    expect(got).toMatchObject({ kind: "heartbeat", heartbeat: { instance_id: "i-1", in_flight: 2, version: "1.2.3" } });
    await sub.stop();
  });
});
