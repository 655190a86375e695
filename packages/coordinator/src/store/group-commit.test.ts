import { describe, expect, it } from "vitest";
import { GroupCommit } from "./group-commit.js";

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("GroupCommit", () => {
  it("writes the items of one tick together and each caller gets its own outcome", async () => {
    const writes: number[][] = [];
    const group = new GroupCommit<number, number>(async (items) => (writes.push(items), items.map((i) => i * 10)), {
      maxBatch: 100,
      concurrency: 1,
    });
    const outcomes = await Promise.all([1, 2, 3].map((i) => group.add(i)));
    expect(outcomes).toEqual([10, 20, 30]);
    expect(writes).toEqual([[1, 2, 3]]);
  });

  it("gathers what arrives during a write into the next one, up to maxBatch", async () => {
    const writes: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const group = new GroupCommit<number, number>(
      async (items) => {
        writes.push(items);
        if (writes.length === 1) await gate;
        return items;
      },
      { maxBatch: 2, concurrency: 1 },
    );
    const first = group.add(0);
    await tick();
    const rest = [1, 2, 3, 4, 5].map((i) => group.add(i));
    await tick();
    expect(writes).toEqual([[0]]);
    release();
    await Promise.all([first, ...rest]);
    expect(writes).toEqual([[0], [1, 2], [3, 4], [5]]);
  });

  it("never puts two items with the same conflict key in one write", async () => {
    const writes: string[][] = [];
    const group = new GroupCommit<string, string>(async (items) => (writes.push(items), items), {
      maxBatch: 10,
      concurrency: 1,
      conflictKey: (s) => s.split(":")[0] as string,
    });
    await Promise.all(["a:1", "b:1", "a:2", "c:1", "a:3"].map((s) => group.add(s)));
    expect(writes).toEqual([["a:1", "b:1", "c:1"], ["a:2"], ["a:3"]]);
  });

  it("rejects every item of a failed write and goes on with the next", async () => {
    let calls = 0;
    const group = new GroupCommit<number, number>(
      async (items) => {
        calls += 1;
        if (calls === 1) throw new Error("database down");
        return items;
      },
      { maxBatch: 10, concurrency: 1 },
    );
    const failed = [group.add(1), group.add(2)];
    await expect(Promise.all(failed)).rejects.toThrow("database down");
    await expect(failed[1]).rejects.toThrow("database down");
    expect(await group.add(3)).toBe(3);
  });

  it("runs up to `concurrency` writes at once", async () => {
    let active = 0;
    let most = 0;
    const group = new GroupCommit<number, number>(
      async (items) => {
        active += 1;
        most = Math.max(most, active);
        await tick();
        active -= 1;
        return items;
      },
      { maxBatch: 1, concurrency: 3 },
    );
    await Promise.all([1, 2, 3, 4, 5, 6].map((i) => group.add(i)));
    expect(most).toBe(3);
  });

  it("rejects the callers when a write returns the wrong number of outcomes", async () => {
    const group = new GroupCommit<number, number>(async () => [], { maxBatch: 10, concurrency: 1 });
    await expect(group.add(1)).rejects.toThrow("1 items written but 0 outcomes returned");
  });
});
