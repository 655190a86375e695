import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY, TerminalError, defineComponent, retryDelayMs } from "../src/index.js";
import { finishes, mayHaveRun } from "../src/job-runner.js";

describe("defineComponent", () => {
  const handle = (): undefined => undefined;

  it("returns a frozen definition with defaults", () => {
    const def = defineComponent({ name: "extract", handle });
    expect(def).toMatchObject({ name: "extract", version: "0.0.0", concurrency: 1, retry: DEFAULT_RETRY });
    expect(DEFAULT_RETRY).toEqual({ baseDelayMs: 1_000, maxDelayMs: 60_000 });
    expect(Object.isFrozen(def)).toBe(true);
    expect(Object.isFrozen(def.retry)).toBe(true);
    expect(() => ((def as { concurrency: number }).concurrency = 5)).toThrow(TypeError);
  });

  it("keeps given options and merges a partial retry policy", () => {
    const def = defineComponent({
      name: "embed",
      version: "1.2.3",
      concurrency: 4,
      retry: { baseDelayMs: 50 },
      handle,
    });
    expect(def).toMatchObject({ version: "1.2.3", concurrency: 4, retry: { baseDelayMs: 50, maxDelayMs: 60_000 } });
  });

  it("runs the handler in a thread by default and names the module that called defineComponent", () => {
    const def = defineComponent({ name: "extract", handle });
    expect(def).toMatchObject({ isolation: "thread", module: import.meta.url });
    expect(defineComponent({ name: "x", handle, isolation: "none" }).isolation).toBe("none");
  });

  it("takes the module as a file: URL or an absolute path, and refuses anything else", () => {
    const url = new URL("./fixtures/isolated-components.ts", import.meta.url);
    expect(defineComponent({ name: "x", handle, module: url }).module).toBe(url.href);
    expect(defineComponent({ name: "x", handle, module: url.pathname }).module).toBe(url.href);
    expect(() => defineComponent({ name: "x", handle, module: "./relative.ts" })).toThrow(
      /module: expected a file: URL \(import.meta.url\) or an absolute path, got "\.\/relative\.ts"/,
    );
    expect(() => defineComponent({ name: "x", handle, module: "https://example.com/x.js" })).toThrow(/file: URL/);
    expect(() => defineComponent({ name: "x", handle, isolation: "process" as "none" })).toThrow(
      /isolation: expected "thread" or "none", got "process"/,
    );
  });

  it.each([
    ["", /name: expected a non-empty string/],
    ["Extract", /DNS-1123/],
    ["has_underscore", /DNS-1123/],
    ["a".repeat(64), /at most 63/],
  ])("rejects the name %j with a clear message", (name, message) => {
    expect(() => defineComponent({ name, handle })).toThrow(message);
  });

  it("rejects a bad concurrency, retry policy or handler", () => {
    expect(() => defineComponent({ name: "x", concurrency: 0, handle })).toThrow(
      /concurrency: expected an integer >= 1, got 0/,
    );
    expect(() => defineComponent({ name: "x", concurrency: 1.5, handle })).toThrow(/concurrency/);
    expect(() => defineComponent({ name: "x", retry: { baseDelayMs: 10, maxDelayMs: 5 }, handle })).toThrow(
      /retry: expected finite 0 <= baseDelayMs <= maxDelayMs/,
    );
    expect(() => defineComponent({ name: "x", handle: undefined as unknown as typeof handle })).toThrow(
      /handle: expected a function/,
    );
  });
});

describe("TerminalError", () => {
  it("carries a reason code, message and cause", () => {
    const cause = new Error("root");
    const err = new TerminalError("unsupported_language", "no model for xx", { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("TerminalError");
    expect(err.reasonCode).toBe("unsupported_language");
    expect(err.message).toBe("no model for xx");
    expect(err.cause).toBe(cause);
  });

  it("rejects a reason code outside the contract's syntax", () => {
    expect(() => new TerminalError("Bad Code", "x")).toThrow(/reasonCode "Bad Code": expected only the characters/);
    expect(() => new TerminalError("", "x")).toThrow(/non-empty/);
    expect(() => new TerminalError("a".repeat(65), "x")).toThrow(/at most 64 bytes/);
  });
});

describe("retryDelayMs", () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 1_000 };

  it("doubles per attempt from the base and is capped", () => {
    const top = (attempt: number): number => retryDelayMs(attempt, policy, () => 1);
    expect([1, 2, 3, 4, 5, 6, 50, 10_000].map(top)).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000]);
  });

  it("scales by a random factor in [0.5, 1]", () => {
    expect(retryDelayMs(3, policy, () => 0)).toBe(200);
    expect(retryDelayMs(3, policy, () => 0.5)).toBe(300);
    expect(retryDelayMs(3, policy, () => 0.999999)).toBe(400);
    for (let i = 0; i < 200; i++) {
      const d = retryDelayMs(4, policy);
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(800);
    }
  });

  it("treats attempt 0 or less like the first and survives absurd inputs", () => {
    expect(retryDelayMs(0, policy, () => 1)).toBe(100);
    expect(retryDelayMs(-3, policy, () => 1)).toBe(100);
    expect(retryDelayMs(3, policy, () => 7)).toBe(400);
    expect(retryDelayMs(2, { baseDelayMs: 0, maxDelayMs: 0 })).toBe(0);
  });
});

describe("finishes (whether an existing Result finishes a delivery)", () => {
  const now = 1_000_000;
  const before = { finished_at: new Date(now - 60_000).toISOString() };
  const after = { finished_at: new Date(now + 10).toISOString() };
  it("any Result finishes a delivery under the bare job id (the same run, republished or redelivered)", () => {
    expect(finishes(before, { dedupKey: "j1", publishedAt: now }, "j1")).toBe(true);
    expect(finishes(after, { dedupKey: "j1", publishedAt: now }, "j1")).toBe(true);
  });
  it("under another key (a redrive), only a Result produced after the message was stored does", () => {
    expect(finishes(before, { dedupKey: "j1:redrive:1", publishedAt: now }, "j1")).toBe(false);
    expect(finishes(after, { dedupKey: "j1:redrive:1", publishedAt: now }, "j1")).toBe(true);
    expect(finishes(before, { dedupKey: undefined, publishedAt: now }, "j1")).toBe(false);
  });
});

describe("mayHaveRun (whether a delivery looks its Result up before running)", () => {
  const now = 1_000_000;
  const connectedSince = now - 20_000;
  const fresh = { deliveryCount: 1, publishedAt: now - 5, ackWaitMs: 30_000 };
  it("skips the lookup for a fresh first delivery published on this connection", () => {
    expect(mayHaveRun(fresh, connectedSince, now)).toBe(false);
  });
  it("looks up a redelivery, a job older than one ack wait, and a republish from the outbox", () => {
    expect(mayHaveRun({ ...fresh, deliveryCount: 2 }, connectedSince, now)).toBe(true);
    expect(mayHaveRun({ ...fresh, publishedAt: now - 30_000 }, connectedSince, now)).toBe(true);
    expect(mayHaveRun({ ...fresh, mayRepeat: true }, connectedSince, now)).toBe(true);
  });
  it("looks up a job stored before the bus's current connection (a restarted server may have forgotten its ack), with slack", () => {
    expect(mayHaveRun({ ...fresh, publishedAt: connectedSince - 1 }, connectedSince, now)).toBe(true);
    expect(mayHaveRun({ ...fresh, publishedAt: connectedSince + 1_000 }, connectedSince, now)).toBe(true);
    expect(mayHaveRun({ ...fresh, publishedAt: connectedSince + 5_000 }, connectedSince, now)).toBe(false);
  });
  it("relies on the count and the flag when the backend cannot tell when a job was stored", () => {
    expect(mayHaveRun({ ...fresh, publishedAt: undefined as unknown as number }, connectedSince, now)).toBe(false);
  });
});
