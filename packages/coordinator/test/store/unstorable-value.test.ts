import { describe, expect, it } from "vitest";
import { isUnstorableValue } from "../../src/results/record-result.js";
import { MemoryJobStore } from "../../src/store/memory-job-store.js";
import { ConstraintViolationError, storableText, UnstorableValueError } from "../../src/store/storable-values.js";

describe("unstorable values", () => {
  it("are refused by the memory stores with a typed error carrying Postgres's SQLSTATE", () => {
    const refused = (() => {
      try {
        storableText("a\u0000b");
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(refused).toBeInstanceOf(UnstorableValueError);
    expect(refused).toMatchObject({ name: "UnstorableValueError", code: "22021" });
  });

  it("are told apart from other refusals, on the memory store and from Postgres alike", async () => {
    expect(isUnstorableValue(new UnstorableValueError("22P05", "unsupported Unicode escape sequence"))).toBe(true);
    // What pg and PGlite throw: an Error with the SQLSTATE as `code`.
    const postgres = (code: string): Error => Object.assign(new Error("from Postgres"), { code });
    expect(isUnstorableValue(postgres("22P05"))).toBe(true);
    expect(isUnstorableValue(postgres("54001"))).toBe(true);
    expect(isUnstorableValue(postgres("23505"))).toBe(false);
    expect(isUnstorableValue(postgres("57P01"))).toBe(false);
    expect(isUnstorableValue(new ConstraintViolationError("23505", "duplicate key"))).toBe(false);
    expect(isUnstorableValue(new Error("connection refused"))).toBe(false);
    const store = new MemoryJobStore();
    await expect(store.nextOutboxBatch(-1, [], false, [])).rejects.toBeInstanceOf(UnstorableValueError);
  });
});
