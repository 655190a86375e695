import { describe, expect, it } from "vitest";
import { createInProcessBus } from "../../src/embedded/inprocess-bus.js";
import { DedupWindow } from "../../src/embedded/dedup-window.js";
import { makeResult } from "../conformance/fixtures.js";

describe("DedupWindow", () => {
  it("forgets a key once its window has passed, whether or not anything was pruned", () => {
    let now = 1_000;
    const w = new DedupWindow<number>(100, () => now);
    w.set("a", 1);
    now += 99;
    expect(w.get("a")).toBe(1);
    now += 1;
    expect(w.get("a")).toBeUndefined();
  });

  it("prunes expired keys when it grows, and a key set again expires from its last set", () => {
    let now = 0;
    const w = new DedupWindow<number>(100, () => now);
    w.set("a", 1);
    now = 50;
    w.set("b", 2);
    now = 90;
    w.set("a", 3); // now the youngest: it must not hold back the pruning of "b"
    now = 160;
    w.set("c", 4);
    expect(w.get("b")).toBeUndefined();
    expect(w.get("a")).toBe(3);
    expect(w.size).toBe(2); // "b" was removed, not only hidden
    now = 200;
    w.set("d", 5);
    expect(w.size).toBe(2);
    expect(w.get("a")).toBeUndefined();
  });

  it("holds at most maxEntries keys, forgetting the oldest first", () => {
    const w = new DedupWindow<number>(60_000, () => 0, 3);
    for (const [i, key] of ["a", "b", "c", "d", "e"].entries()) w.set(key, i);
    expect(w.size).toBe(3);
    expect([w.get("a"), w.get("b"), w.get("c"), w.get("d"), w.get("e")]).toEqual([undefined, undefined, 2, 3, 4]);
    w.set("c", 9); // set again: now the youngest, so "d" goes next
    w.set("f", 5);
    expect([w.get("c"), w.get("d"), w.get("e"), w.get("f")]).toEqual([9, undefined, 4, 5]);
  });

  it("orders a key set many times by its last set, across the queue's clean-ups", () => {
    let now = 0;
    const w = new DedupWindow<number>(1_000, () => now, 3);
    for (let i = 0; i < 5_000; i++) w.set("hot", i); // thousands of replaced entries: cleaned up on the way
    w.set("x", -1);
    w.set("y", -2);
    w.set("hot", 5_000); // the youngest now: "x" goes first, then "y"
    w.set("z", -3);
    expect([w.get("hot"), w.get("x"), w.get("y"), w.get("z")]).toEqual([5_000, undefined, -2, -3]);
    now = 999;
    expect(w.get("hot")).toBe(5_000);
    now = 1_000;
    w.set("later", 0);
    expect(w.size).toBe(1);
  });
});

describe("in-process bus Result retention", () => {
  it("answers getResult for resultsMaxAgeMs and then forgets the Result, so memory does not grow with every job", async () => {
    let now = Date.parse("2026-11-24T00:00:00Z");
    const bus = createInProcessBus({ now: () => now, resultsMaxAgeMs: 60_000 });
    try {
      await bus.publishResult(makeResult("keep", "j1"));
      now += 59_999;
      expect((await bus.getResult("keep", "j1"))?.job_id).toBe("j1");
      now += 1;
      expect(await bus.getResult("keep", "j1")).toBeUndefined();
      // A Result published later is kept as usual.
      await bus.publishResult(makeResult("keep", "j2"));
      expect((await bus.getResult("keep", "j2"))?.job_id).toBe("j2");
    } finally {
      await bus.close();
    }
  });

  it("keeps Results for an hour by default and refuses a retention that is not positive", async () => {
    let now = 0;
    const bus = createInProcessBus({ now: () => now });
    try {
      await bus.publishResult(makeResult("keep", "j1"));
      now += 3_599_000;
      expect(await bus.getResult("keep", "j1")).toBeDefined();
      now += 1_000;
      expect(await bus.getResult("keep", "j1")).toBeUndefined();
    } finally {
      await bus.close();
    }
    expect(() => createInProcessBus({ resultsMaxAgeMs: 0 })).toThrow(
      /resultsMaxAgeMs: expected a number of milliseconds > 0, got 0/,
    );
  });

  it("keeps at most resultsMaxCount Results, the newest, and refuses a count that is not a positive integer", async () => {
    const bus = createInProcessBus({ resultsMaxCount: 2 });
    try {
      for (const id of ["j1", "j2", "j3"]) await bus.publishResult(makeResult("keep", id));
      expect(await bus.getResult("keep", "j1")).toBeUndefined();
      expect((await bus.getResult("keep", "j2"))?.job_id).toBe("j2");
      expect((await bus.getResult("keep", "j3"))?.job_id).toBe("j3");
    } finally {
      await bus.close();
    }
    expect(() => createInProcessBus({ resultsMaxCount: 0.5 })).toThrow(
      /resultsMaxCount: expected an integer >= 1, got 0.5/,
    );
  });
});
