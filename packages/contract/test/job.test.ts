import { describe, expect, it } from "vitest";
import { decodeJob, encodeJob, inputModeOf, validateJob, type Job } from "@tessera/contract";

const valid: Job = {
  schema_version: 1,
  job_id: "01HX-abc_1",
  component: "extract",
  content_type: "text/plain",
  limits: { max_bytes: 1024, wall_clock: 5000 },
  input: { inline: "hello" },
};
const bytes = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

describe("Job validation", () => {
  it("accepts a valid job and round-trips through encode/decode", () => {
    const decoded = decodeJob(encodeJob(valid));
    expect(decoded.ok && decoded.value).toEqual(valid);
    expect(inputModeOf(valid)).toBe("inline");
  });

  it("names the field and the expected type for a wrong type", () => {
    const r = validateJob({ ...valid, limits: { max_bytes: "10", wall_clock: 5000 } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problem).toBe("invalid_envelope");
    expect(r.error.issues[0]).toMatchObject({ path: "limits.max_bytes", received: 'string "10"' });
    expect(r.error.message).toMatch(/limits\.max_bytes: expected integer/);
  });

  it("reports a missing job_id once, by name", () => {
    const { job_id: _omit, ...rest } = valid;
    const r = validateJob(rest);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.issues.filter((i) => i.path === "job_id")).toHaveLength(1);
    expect(r.error.message).toContain("job_id: expected");
    expect(r.error.message).toContain("field missing");
  });

  it("rejects a job id that is not a subject-safe token", () => {
    const r = validateJob({ ...valid, job_id: "a.b" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/job_id: expected a string matching/);
  });

  it("requires exactly one input mode and says which were given", () => {
    const both = validateJob({
      ...valid,
      input: { content_ref: { object_ref: "x/y", byte_size: 1 }, source_locator: { source_url: "https://e.test/a" } },
    });
    expect(both.ok).toBe(false);
    if (!both.ok)
      expect(both.error.message).toBe(
        "invalid Job: input: expected exactly one of inline, content_ref, source_locator, got content_ref and source_locator",
      );
    const none = validateJob({ ...valid, input: {} });
    expect(none.ok).toBe(false);
    if (!none.ok) expect(none.error.message).toContain("got none of them");
  });

  it("separates an unknown schema_version from other problems", () => {
    const r = validateJob({ ...valid, schema_version: 2 });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problem).toBe("unsupported_schema_version");
      expect(r.error.message).toBe(
        "invalid Job: schema_version: expected a supported schema version (1), got number 2",
      );
    }
  });

  it("rejects unknown fields by name (the contract is frozen per version)", () => {
    const r = validateJob({ ...valid, priority: 3 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.issues[0]).toMatchObject({ path: "priority", received: "number 3" });
  });

  it("holds metadata keys to 1-64 characters and says so", () => {
    const long = "k".repeat(65);
    const r = validateJob({ ...valid, metadata: { [long]: "v" } });
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.error.issues).toEqual([
        { path: `metadata.${long}`, expected: "a key of 1 to 64 characters", received: 'string "v"' },
      ]);
    expect(validateJob({ ...valid, metadata: { "": "v" } }).ok).toBe(false);
    expect(validateJob({ ...valid, metadata: { ["k".repeat(64)]: "v" } }).ok).toBe(true);
  });

  it("never throws on arbitrary bytes", () => {
    for (const raw of [
      new Uint8Array([0xff, 0xfe, 0x00]),
      new TextEncoder().encode("not json"),
      bytes(null),
      bytes([1, 2]),
      bytes("x"),
    ]) {
      const r = decodeJob(raw);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.problem).toBe("invalid_envelope");
    }
  });

  it("rejects a malformed deadline and traceparent", () => {
    const r = validateJob({ ...valid, deadline: "tomorrow", traceparent: "nope" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.issues.map((i) => i.path).sort()).toEqual(["deadline", "traceparent"]);
  });

  it("encodeJob refuses an invalid job", () => {
    expect(() => encodeJob({ ...valid, component: "" })).toThrow(/component: expected string length/);
  });
});
