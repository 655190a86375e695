import { describe, expect, it } from "vitest";
import { runExample } from "../src/run-example.js";

describe("quickstart example (README command 1)", () => {
  it("completes the sample documents, retries the flaky one and fails the empty one terminally", async () => {
    const outcomes = await runExample();
    const byName = Object.fromEntries(outcomes.map((o) => [o.document, o.result]));
    expect(byName["hello.txt"]).toMatchObject({ status: "completed", attempt: 1, output: { data: { words: 9 } } });
    expect(byName["flaky.txt"]).toMatchObject({ status: "completed", attempt: 2 });
    expect(byName["large.txt"]).toMatchObject({ status: "completed", output: { data: { words: 100_000 } } });
    expect(byName["empty.txt"]).toMatchObject({ status: "failed", reason_code: "empty_input" });
  });
});
