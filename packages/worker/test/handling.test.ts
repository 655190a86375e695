import { createInProcessBus, type Bus } from "@tessera/bus";
import { INLINE_OUTPUT_MAX_BYTES, ReasonCode, validateResult, type Result } from "@tessera/contract";
import { sleep, waitFor, withOverrides } from "@tessera/testkit";
import { describe, expect, it } from "vitest";
import { TerminalError, type HandlerContext } from "../src/index.js";
import { bytesOf, harnessPerTest, makeJob, spyingBus } from "./helpers.js";

const harness = harnessPerTest();

describe("a job that returns", () => {
  it("is routed to its component's handler, gets a completed Result, then is acked", async () => {
    const seen: HandlerContext[] = [];
    const spy = { settles: [] as ReturnType<typeof spyingBus>["settles"] };
    const h = await harness(
      {
        handle: async (ctx) => {
          seen.push(ctx);
          return { echoed: await ctx.input.json(), attempt: ctx.attempt };
        },
      },
      {
        wrap: (bus) => {
          const s = spyingBus(bus);
          spy.settles = s.settles;
          return s.bus;
        },
        worker: { instanceId: "instance-a" },
      },
    );
    const job = makeJob(h.name, {
      input: { inline: { n: 1 } },
      metadata: { tenant: "t1" },
      shared_config: { model: "m-1", dim: 384 },
    });
    await h.bus.publishJob(job);
    const result = await h.result(job.job_id);

    expect(validateResult(result).ok).toBe(true);
    expect(result).toMatchObject({
      schema_version: 1,
      job_id: job.job_id,
      component: h.name,
      status: "completed",
      attempt: 1,
      instance_id: "instance-a",
      output: { data: { echoed: { n: 1 }, attempt: 1 } },
    });
    expect(result.reason_code).toBeUndefined();
    expect(Date.parse(result.finished_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(result.duration_ms).toBeGreaterThanOrEqual(0);
    await waitFor("the ack", () => spy.settles.length === 1);
    expect(spy.settles).toEqual([{ action: "ack", streamSeq: 1, deliveryCount: 1 }]);
    expect(await h.bus.queueDepth(h.name)).toMatchObject({ total: 0 });

    const ctx = seen[0] as HandlerContext;
    expect(ctx.jobId).toBe(job.job_id);
    expect(ctx.job).toEqual(job);
    expect(ctx.config).toEqual({ model: "m-1", dim: 384 });
    expect(ctx.metadata).toEqual({ tenant: "t1" });
    expect(ctx.signal.aborted).toBe(false);
    expect(typeof ctx.log.info).toBe("function");
  });

  it("routes each component's jobs only to its own worker", async () => {
    const bus = createInProcessBus();
    const a = await harness({ name: "route-a", handle: () => "a" }, { bus });
    const b = await harness({ name: "route-b", handle: () => "b" }, { bus });
    const ja = makeJob("route-a");
    const jb = makeJob("route-b");
    await bus.publishJob(ja);
    await bus.publishJob(jb);
    expect((await a.result(ja.job_id)).output).toEqual({ data: "a" });
    expect((await b.result(jb.job_id)).output).toEqual({ data: "b" });
  });

  it("gives an empty config and metadata when the job has none", async () => {
    let ctx: HandlerContext | undefined;
    const h = await harness({ handle: (c) => void (ctx = c) });
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    expect(await h.result(job.job_id)).toMatchObject({ status: "completed" });
    expect(ctx?.config).toEqual({});
    expect(ctx?.metadata).toEqual({});
  });

  it("runs up to `concurrency` handlers at once, never more", async () => {
    let running = 0;
    let peak = 0;
    const h = await harness({
      concurrency: 2,
      handle: async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(60);
        running--;
      },
    });
    const jobs = Array.from({ length: 6 }, () => makeJob(h.name));
    for (const j of jobs) await h.bus.publishJob(j);
    for (const j of jobs) await h.result(j.job_id);
    expect(peak).toBe(2);
  });
});

describe("outputs", () => {
  it("undefined gives a Result without output", async () => {
    const h = await harness({ handle: () => undefined });
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    const result = await h.result(job.job_id);
    expect(result.status).toBe("completed");
    expect(result.output).toBeUndefined();
  });

  it("bytes are stored by reference, owned by the job", async () => {
    const payload = new Uint8Array([0, 1, 2, 254, 255]);
    const h = await harness({ handle: () => payload });
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    const { output } = await h.result(job.job_id);
    expect(output?.data).toBeUndefined();
    const ref = output?.result_ref;
    expect(ref).toMatchObject({ byte_size: 5 });
    expect(ref?.object_ref.startsWith(`${job.job_id}/`)).toBe(true);
    expect(await h.bus.payloads.get(ref!, { jobId: job.job_id, maxBytes: 10 })).toEqual(payload);
  });

  it("JSON up to INLINE_OUTPUT_MAX_BYTES is inline; larger JSON goes by reference", async () => {
    const small = { text: "x".repeat(INLINE_OUTPUT_MAX_BYTES - 20) };
    const large = { text: "x".repeat(INLINE_OUTPUT_MAX_BYTES) };
    const h = await harness({
      handle: async (ctx) => ((await ctx.input.json<{ size: string }>()).size === "small" ? small : large),
    });
    const js = makeJob(h.name, { input: { inline: { size: "small" } } });
    const jl = makeJob(h.name, { input: { inline: { size: "large" } } });
    await h.bus.publishJob(js);
    await h.bus.publishJob(jl);
    expect((await h.result(js.job_id)).output).toEqual({ data: small });
    const ref = (await h.result(jl.job_id)).output?.result_ref;
    expect(ref).toBeDefined();
    const stored = await h.bus.payloads.get(ref!, { jobId: jl.job_id, maxBytes: 10 * INLINE_OUTPUT_MAX_BYTES });
    expect(JSON.parse(new TextDecoder().decode(stored))).toEqual(large);
  });

  it("a value JSON cannot carry fails the job with reason invalid_output (no retry can fix it)", async () => {
    let calls = 0;
    const h = await harness({
      handle: () => {
        calls++;
        return { big: 10n };
      },
    });
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    const result = await h.result(job.job_id);
    expect(result).toMatchObject({ status: "failed", reason_code: "invalid_output" });
    expect(result.reason_detail).toMatch(/not JSON-serializable/);
    await sleep(100);
    expect(calls).toBe(1);
  });

  it("ctx.payloads.put stores bytes owned by the job", async () => {
    const h = await harness({ handle: async (ctx) => ({ ref: await ctx.payloads.put(bytesOf("intermediate")) }) });
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    const { ref } = (await h.result(job.job_id)).output?.data as { ref: { object_ref: string; byte_size: number } };
    expect(ref.object_ref.startsWith(`${job.job_id}/`)).toBe(true);
    expect(new TextDecoder().decode(await h.bus.payloads.get(ref, { jobId: job.job_id, maxBytes: 100 }))).toBe(
      "intermediate",
    );
  });
});

describe("inputs", () => {
  type Read = { bytes: number[]; text: string; json: unknown };
  const readAll = async (ctx: HandlerContext): Promise<Read> => ({
    bytes: [...(await ctx.input.bytes())],
    text: await ctx.input.text(),
    json: await ctx.input.json(),
  });

  it("inline string: text as is, bytes its UTF-8, json the string", async () => {
    const h = await harness({ handle: readAll });
    const job = makeJob(h.name, { content_type: "text/plain", input: { inline: "héllo" } });
    await h.bus.publishJob(job);
    const out = (await h.result(job.job_id)).output?.data as Read;
    expect(out).toEqual({ bytes: [...bytesOf("héllo")], text: "héllo", json: "héllo" });
  });

  it("inline JSON value: json the value, text and bytes its JSON", async () => {
    const h = await harness({ handle: readAll });
    const job = makeJob(h.name, { input: { inline: { a: [1, 2] } } });
    await h.bus.publishJob(job);
    const out = (await h.result(job.job_id)).output?.data as Read;
    expect(out).toEqual({ bytes: [...bytesOf('{"a":[1,2]}')], text: '{"a":[1,2]}', json: { a: [1, 2] } });
  });

  it("content_ref: read through the payload store", async () => {
    const h = await harness({ handle: readAll });
    const job = makeJob(h.name);
    const ref = await h.bus.payloads.put(job.job_id, bytesOf({ from: "store" }));
    await h.bus.publishJob({ ...job, input: { content_ref: ref } });
    const out = (await h.result(job.job_id)).output?.data as Read;
    expect(out.json).toEqual({ from: "store" });
    expect(out.text).toBe('{"from":"store"}');
  });

  it("content_ref that is not JSON, read as JSON: failed with reason invalid_input", async () => {
    const h = await harness({ handle: (ctx) => ctx.input.json() });
    const job = makeJob(h.name);
    const ref = await h.bus.payloads.put(job.job_id, bytesOf("not json"));
    await h.bus.publishJob({ ...job, input: { content_ref: ref } });
    expect(await h.result(job.job_id)).toMatchObject({ status: "failed", reason_code: "invalid_input" });
  });

  it.each([
    [
      "larger than max_bytes",
      "payload_too_large",
      async (bus: Bus, jobId: string) => bus.payloads.put(jobId, new Uint8Array(2_000)),
    ],
    [
      "owned by another job",
      "payload_not_owned",
      async (bus: Bus) => bus.payloads.put("someone-else", new Uint8Array(10)),
    ],
    [
      "missing",
      "payload_missing",
      async (_bus: Bus, jobId: string) => ({ object_ref: `${jobId}/gone`, byte_size: 10 }),
    ],
  ])("content_ref %s: failed with reason %s, not retried", async (_what, reason, makeRef) => {
    let calls = 0;
    const h = await harness({
      handle: async (ctx) => {
        calls++;
        return (await ctx.input.bytes()).length;
      },
    });
    const job = makeJob(h.name, { limits: { max_bytes: 1_000, wall_clock: 5_000 } });
    const ref = await makeRef(h.bus, job.job_id);
    await h.bus.publishJob({ ...job, input: { content_ref: ref } });
    const result = await h.result(job.job_id);
    expect(result).toMatchObject({ status: "failed", reason_code: reason });
    expect(result.reason_detail).toContain(ref.object_ref);
    await sleep(100);
    expect(calls).toBe(1);
  });

  it("source_locator: visibly unimplemented, failed with reason input_mode_unsupported", async () => {
    const h = await harness({ handle: (ctx) => ctx.input.text() });
    const job = makeJob(h.name, { input: { source_locator: { source_url: "https://example.com/doc.pdf" } } });
    await h.bus.publishJob(job);
    const result = await h.result(job.job_id);
    expect(result).toMatchObject({ status: "failed", reason_code: ReasonCode.InputModeUnsupported });
    expect(result.reason_detail).toMatch(/not implemented yet/);
  });
});

describe("errors", () => {
  it("a TerminalError gives a failed Result with its code and a sanitized detail, then term (no retry)", async () => {
    let calls = 0;
    const s = recordSettles();
    const h = await harness(
      {
        handle: () => {
          calls++;
          throw new TerminalError("unsupported_language", `no model for \u0007xx ${"é".repeat(3_000)}`);
        },
      },
      {
        wrap: s.wrap,
      },
    );
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    const result = await h.result(job.job_id);
    expect(result).toMatchObject({ status: "failed", reason_code: "unsupported_language", attempt: 1 });
    expect(result.reason_detail?.startsWith("no model for xx ")).toBe(true); // control character stripped
    expect(Buffer.byteLength(result.reason_detail ?? "")).toBeLessThanOrEqual(4096);
    await waitFor("the term", () => s.settles?.length === 1);
    expect(s.settles?.[0]?.action).toBe("term");
    await sleep(100);
    expect(calls).toBe(1);
    expect(await h.bus.queueDepth(h.name)).toMatchObject({ total: 0 });
  });

  it("any other error is nak'd with backoff and retried; a later success completes with its attempt", async () => {
    const s = recordSettles();
    const h = await harness(
      {
        retry: { baseDelayMs: 40, maxDelayMs: 1_000 },
        handle: (ctx) => {
          if (ctx.attempt < 3) throw new Error(`flaky ${ctx.attempt}`);
          return "third time";
        },
      },
      {
        wrap: s.wrap,
      },
    );
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    const result = await h.result(job.job_id);
    expect(result).toMatchObject({ status: "completed", attempt: 3, output: { data: "third time" } });
    const [first, second, third] = s.settles ?? [];
    expect(first).toMatchObject({ action: "nak", deliveryCount: 1 });
    expect(first?.delayMs).toBeGreaterThanOrEqual(20); // 40 · 2^0 · [0.5, 1]
    expect(first?.delayMs).toBeLessThanOrEqual(40);
    expect(second).toMatchObject({ action: "nak", deliveryCount: 2 });
    expect(second?.delayMs).toBeGreaterThanOrEqual(40); // 40 · 2^1 · [0.5, 1]
    expect(second?.delayMs).toBeLessThanOrEqual(80);
    expect(third).toMatchObject({ action: "ack", deliveryCount: 3 });
  });

  it("a throw that is not an Error (a string) is retried too", async () => {
    const h = await harness({
      handle: (ctx) => {
        if (ctx.attempt === 1) throw "just a string";
        return "ok";
      },
    });
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    expect(await h.result(job.job_id)).toMatchObject({ status: "completed", attempt: 2 });
  });

  it("when the Result cannot be published the job is nak'd (never acked) and redelivered", async () => {
    const s = failFirstResultPublish();
    const h = await harness(
      { handle: () => "done" },
      {
        wrap: s.wrap,
      },
    );
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    expect(await h.result(job.job_id)).toMatchObject({ status: "completed", attempt: 2 });
    expect(s.settles?.map((e) => e.action)).toEqual(["nak", "ack"]);
  });

  it("a terminal failure whose Result cannot be published is nak'd too, not termed", async () => {
    const s = failFirstResultPublish();
    const h = await harness(
      {
        handle: () => {
          throw new TerminalError("bad_input", "no");
        },
      },
      {
        wrap: s.wrap,
      },
    );
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    expect(await h.result(job.job_id)).toMatchObject({ status: "failed", reason_code: "bad_input", attempt: 2 });
    expect(s.settles?.map((e) => e.action)).toEqual(["nak", "term"]);
  });
});

/** A bus wrapper that records every settle, optionally over a bus changed by `transform`. */
function recordSettles(transform: (bus: Bus) => Bus = (bus) => bus): {
  wrap: (bus: Bus) => Bus;
  settles?: ReturnType<typeof spyingBus>["settles"];
} {
  const out: { wrap: (bus: Bus) => Bus; settles?: ReturnType<typeof spyingBus>["settles"] } = {
    wrap: (bus) => {
      const spied = spyingBus(transform(bus));
      out.settles = spied.settles;
      return spied.bus;
    },
  };
  return out;
}

/** Records every settle on a bus whose first publishResult fails. */
function failFirstResultPublish(): ReturnType<typeof recordSettles> {
  let failures = 1;
  return recordSettles((bus) =>
    withOverrides(bus, {
      publishResult: async (r: Result) => {
        if (failures-- > 0) throw new Error("results stream unavailable");
        return bus.publishResult(r);
      },
    }),
  );
}
