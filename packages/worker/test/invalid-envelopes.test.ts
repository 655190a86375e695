import type { Bus, DeadLetter } from "@tessera/bus";
import { waitFor, withOverrides } from "@tessera/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { bytesOf, makeJob, newJobId, spyingBus, startHarness, type Harness, type SettleEvent } from "./helpers.js";

const open: Harness[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.stop()));
});

/** A worker whose handler counts its calls, with every settle recorded. */
async function start(wrap?: (bus: Bus) => Bus): Promise<Harness & { calls: () => number; settles: SettleEvent[] }> {
  let calls = 0;
  let settles: SettleEvent[] = [];
  const h = await startHarness(
    {
      handle: () => {
        calls++;
        return "ran";
      },
    },
    {
      wrap: (bus) => {
        const spied = spyingBus(wrap ? wrap(bus) : bus);
        settles = spied.settles;
        return spied.bus;
      },
    },
  );
  open.push(h);
  return Object.assign(h, { calls: () => calls, settles });
}

/** Publishes `data` raw, waits for its settle, then checks the worker still runs the next valid job. */
async function publishInvalid(
  h: Harness & { calls: () => number; settles: SettleEvent[] },
  data: Uint8Array,
  dedupKey?: string,
): Promise<SettleEvent> {
  const before = h.settles.length;
  const { seq } = await h.bus.publishRawJob(h.name, data, dedupKey !== undefined ? { dedupKey } : {});
  const settle = await waitFor("the invalid delivery's settle", () =>
    h.settles.slice(before).find((e) => e.streamSeq === seq),
  );
  const next = makeJob(h.name);
  await h.bus.publishJob(next);
  expect(await h.result(next.job_id)).toMatchObject({ status: "completed", output: { data: "ran" } });
  return settle;
}

function envelope(component: string, patch: Record<string, unknown>): Record<string, unknown> {
  return { ...makeJob(component), ...patch };
}

describe("invalid envelopes are termed with the reason recorded, and never run", () => {
  it("wrong field types: failed Result invalid_envelope naming the field", async () => {
    const h = await start();
    const jobId = newJobId();
    const settle = await publishInvalid(
      h,
      bytesOf(envelope(h.name, { job_id: jobId, limits: { max_bytes: "lots", wall_clock: 1_000 } })),
    );
    expect(settle.action).toBe("term");
    const result = await h.result(jobId);
    expect(result).toMatchObject({
      job_id: jobId,
      component: h.name,
      status: "failed",
      reason_code: "invalid_envelope",
      attempt: 1,
    });
    expect(result.reason_detail).toContain("limits.max_bytes");
    expect(h.calls()).toBe(1); // only the valid follow-up job ran
  });

  it("both input modes: invalid_envelope naming input", async () => {
    const h = await start();
    const jobId = newJobId();
    const ref = { object_ref: `${jobId}/x`, byte_size: 1 };
    const settle = await publishInvalid(
      h,
      bytesOf(envelope(h.name, { job_id: jobId, input: { inline: "a", content_ref: ref } })),
    );
    expect(settle.action).toBe("term");
    const result = await h.result(jobId);
    expect(result).toMatchObject({ status: "failed", reason_code: "invalid_envelope" });
    expect(result.reason_detail).toMatch(
      /input: expected exactly one of inline, content_ref, source_locator, got inline and content_ref/,
    );
  });

  it("unknown schema_version: failed Result unsupported_schema_version", async () => {
    const h = await start();
    const jobId = newJobId();
    const settle = await publishInvalid(
      h,
      bytesOf(envelope(h.name, { job_id: jobId, schema_version: 99, some_future_field: true })),
    );
    expect(settle.action).toBe("term");
    const result = await h.result(jobId);
    expect(result).toMatchObject({ status: "failed", reason_code: "unsupported_schema_version" });
    expect(result.reason_detail).toContain("schema_version");
  });

  it("a job for another component: invalid_envelope naming component", async () => {
    const h = await start();
    const jobId = newJobId();
    await publishInvalid(h, bytesOf(envelope("someone-else", { job_id: jobId })));
    const result = await h.result(jobId);
    expect(result).toMatchObject({ status: "failed", reason_code: "invalid_envelope" });
    expect(result.reason_detail).toMatch(/component: expected ".*", got string "someone-else"/);
  });

  it("missing job_id with no dedup key: a dead letter with the original bytes", async () => {
    const h = await start();
    const { job_id: _drop, ...rest } = makeJob(h.name);
    const data = bytesOf(rest);
    const settle = await publishInvalid(h, data);
    expect(settle.action).toBe("term");
    const letters = await h.bus.listDeadLetters(h.name);
    expect(letters).toHaveLength(1);
    const letter = letters[0] as DeadLetter;
    expect(letter).toMatchObject({
      component: h.name,
      jobId: undefined,
      streamSeq: settle.streamSeq,
      deliveries: 1,
      reasonCode: "invalid_envelope",
    });
    expect(letter.reasonDetail).toContain("job_id");
    expect([...letter.data]).toEqual([...data]);
  });

  it("missing job_id but a valid dedup key: the Result is recorded under the dedup key", async () => {
    const h = await start();
    const { job_id: _drop, ...rest } = makeJob(h.name);
    const key = newJobId("dedup");
    await publishInvalid(h, bytesOf(rest), key);
    expect(await h.result(key)).toMatchObject({ job_id: key, status: "failed", reason_code: "invalid_envelope" });
    expect(await h.bus.listDeadLetters(h.name)).toEqual([]);
  });

  it("a malformed job_id is not trusted: the dedup key, or else a dead letter", async () => {
    const h = await start();
    const settle = await publishInvalid(
      h,
      bytesOf(envelope(h.name, { job_id: "has spaces and / slashes" })),
      "not a valid id either!",
    );
    expect(settle.action).toBe("term");
    const letters = await h.bus.listDeadLetters(h.name);
    expect(letters).toHaveLength(1);
    expect(letters[0]?.reasonDetail).toContain("job_id");
  });

  it.each([
    ["non-JSON bytes", new Uint8Array([0xff, 0xfe, 0x00, 0x41])],
    ["truncated JSON", bytesOf('{"schema_version":1,"job_id":"a')],
    ["a JSON array", bytesOf([1, 2, 3])],
    ["JSON null", bytesOf("null")],
    ["empty", new Uint8Array()],
  ])("%s: dead-lettered, termed, and the worker goes on", async (_what, data) => {
    const h = await start();
    const settle = await publishInvalid(h, data);
    expect(settle.action).toBe("term");
    const letters = await h.bus.listDeadLetters(h.name);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ reasonCode: "invalid_envelope" });
    expect(letters[0]?.reasonDetail).toMatch(/\(root\): expected (a UTF-8 JSON document|a JSON object)/);
  });

  it("non-JSON bytes with a valid dedup key: a failed Result under that key", async () => {
    const h = await start();
    const key = newJobId("raw");
    await publishInvalid(h, bytesOf("definitely not json"), key);
    expect(await h.result(key)).toMatchObject({ status: "failed", reason_code: "invalid_envelope" });
  });

  it("if the reason cannot be recorded, the delivery is nak'd with backoff, never termed", async () => {
    let failures = 2;
    const h = await start((bus) =>
      withOverrides(bus, {
        publishDeadLetter: async (letter: DeadLetter) => {
          if (failures-- > 0) throw new Error("dlq unavailable");
          return bus.publishDeadLetter(letter);
        },
      }),
    );
    const { seq } = await h.bus.publishRawJob(h.name, bytesOf("garbage"));
    await waitFor("the dead letter", async () => (await h.bus.listDeadLetters(h.name)).length === 1);
    await waitFor("the term", () => h.settles.some((e) => e.action === "term"));
    const forSeq = h.settles.filter((e) => e.streamSeq === seq);
    expect(forSeq.map((e) => e.action)).toEqual(["nak", "nak", "term"]);
    expect(forSeq[0]?.delayMs).toBeGreaterThan(0);
    expect((await h.bus.listDeadLetters(h.name))[0]).toMatchObject({ deliveries: 3 });
  });
});
