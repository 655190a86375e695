import { describe, expect, it } from "vitest";
import {
  decodeHeartbeat,
  decodeResult,
  encodeHeartbeat,
  encodeResult,
  validateResult,
  type Result,
} from "@tessera/contract";

const ok: Result = {
  schema_version: 1,
  job_id: "j1",
  component: "c",
  status: "completed",
  attempt: 1,
  finished_at: "2026-11-23T14:00:00.000Z",
};

describe("Result", () => {
  it("round-trips", () => {
    const r = decodeResult(encodeResult(ok));
    expect(r.ok && r.value).toEqual(ok);
  });

  it("requires a reason code on failure and checks its syntax", () => {
    const missing = validateResult({ ...ok, status: "failed" });
    expect(!missing.ok && missing.error.message).toContain("reason_code: expected a reason code when status is failed");
    const bad = validateResult({ ...ok, status: "failed", reason_code: "Has Space" });
    expect(!bad.ok && bad.error.message).toMatch(/reason_code: expected a string matching/);
  });

  it("sanitizes reason_detail instead of rejecting it", () => {
    const r = validateResult({
      ...ok,
      status: "failed",
      reason_code: "x",
      reason_detail: `a\u0000b${"z".repeat(5000)}`,
    });
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.value.reason_detail?.startsWith("ab")).toBe(true);
      expect(r.value.reason_detail).toHaveLength(4096);
    }
    const nonString = validateResult({ ...ok, status: "failed", reason_code: "x", reason_detail: { nested: 1 } });
    expect(nonString.ok && nonString.value.reason_detail).toBe('{"nested":1}');
  });

  it("reports an unknown status with the allowed values", () => {
    const r = validateResult({ ...ok, status: "done" });
    expect(!r.ok && r.error.message).toContain("status");
  });
});

describe("Heartbeat", () => {
  it("round-trips and rejects a negative in_flight", () => {
    const hb = {
      schema_version: 1 as const,
      component: "c",
      instance_id: "i",
      version: "1.0.0",
      sent_at: "2026-11-23T14:00:00Z",
      in_flight: 2,
    };
    const r = decodeHeartbeat(encodeHeartbeat(hb));
    expect(r.ok && r.value).toEqual(hb);
    expect(() => encodeHeartbeat({ ...hb, in_flight: -1 })).toThrow(/in_flight: expected integer/);
  });
});
