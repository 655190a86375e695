import { describe, expect, it } from "vitest";
import { DecisionOrder, type Ordered } from "../../src/store/decision-order.js";
import { TombstoneList } from "../../src/store/tombstone-list.js";

interface Row extends Ordered<Row> {
  n: number;
  deleted: boolean;
}

const row = (n: number): Row => ({ n, deleted: false, older: null, newer: null, inOrder: null });

describe("TombstoneList", () => {
  it("keeps tombstones until they are a quarter of the array, then drops them all at once, keeping the order", () => {
    const list = new TombstoneList<Row>((r) => r.deleted);
    const rows = Array.from({ length: 400 }, (_, i) => row(i));
    for (const r of rows) list.push(r);
    for (const r of rows.slice(0, 100)) {
      r.deleted = true;
      list.deleted();
    }
    expect(list.rows).toHaveLength(400);
    const last = rows[100] as Row;
    last.deleted = true;
    list.deleted();
    expect(list.rows.map((r) => r.n)).toEqual(rows.slice(101).map((r) => r.n));
  });

  it("leaves a small list alone", () => {
    const list = new TombstoneList<Row>((r) => r.deleted);
    const rows = Array.from({ length: 10 }, (_, i) => row(i));
    for (const r of rows) list.push(r);
    for (const r of rows) {
      r.deleted = true;
      list.deleted();
    }
    expect(list.rows).toHaveLength(10);
  });
});

describe("DecisionOrder", () => {
  it("gives the oldest first, removes from anywhere, and moves a row between orders", () => {
    const decided = new DecisionOrder<Row>();
    const kept = new DecisionOrder<Row>();
    const [a, b, c] = [row(1), row(2), row(3)] as [Row, Row, Row];
    for (const r of [a, b, c]) decided.append(r);
    decided.remove(b);
    expect(decided.size).toBe(2);
    kept.append(a);
    expect([decided.size, kept.size]).toEqual([1, 1]);
    expect(decided.oldest()).toBe(c);
    expect(kept.oldest()).toBe(a);
    decided.remove(a);
    expect(kept.size).toBe(1);
    kept.remove(a);
    decided.remove(c);
    expect([decided.oldest(), kept.oldest(), decided.size, kept.size]).toEqual([null, null, 0, 0]);
    decided.append(b);
    expect(decided.oldest()).toBe(b);
  });
});
