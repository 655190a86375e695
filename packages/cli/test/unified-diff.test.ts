import { describe, expect, it } from "vitest";
import { unifiedDiff } from "../src/deploy/unified-diff.js";

describe("unifiedDiff", () => {
  it("is empty for equal texts", () => {
    expect(unifiedDiff("a\nb\n", "a\nb\n", "x", "y")).toBe("");
  });

  it("prints hunks with three lines of context and line ranges as diff -u does", () => {
    const before = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"].join("\n");
    const after = ["1", "2", "3", "4", "five", "6", "7", "8", "9", "10", "11", "12", "13"].join("\n");
    expect(unifiedDiff(before, after, "old", "new")).toBe(
      [
        "--- old",
        "+++ new",
        "@@ -2,7 +2,7 @@",
        " 2",
        " 3",
        " 4",
        "-5",
        "+five",
        " 6",
        " 7",
        " 8",
        "@@ -10,3 +10,4 @@",
        " 10",
        " 11",
        " 12",
        "+13",
        "",
      ].join("\n"),
    );
  });

  it("diffs against nothing (a new component) as all additions", () => {
    expect(unifiedDiff("", "a\nb\n", "/dev/null", "new")).toBe("--- /dev/null\n+++ new\n@@ -0,0 +1,2 @@\n+a\n+b\n");
  });
});
