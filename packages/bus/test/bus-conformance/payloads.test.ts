import { PayloadMissingError, PayloadNotOwnedError, PayloadTooLargeError } from "@tessera/bus";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, type BackendUnderTest } from "./backends.js";

const MB = 1024 * 1024;

describe.each(backends)("[$name] payloads by reference", (backend) => {
  let env: BackendUnderTest;
  beforeAll(async () => {
    env = await backend.setup();
  });
  afterAll(async () => env.teardown());

  it("round-trips 5 MB for the owning job", async () => {
    const data = randomBytes(5 * MB);
    const ref = await env.bus.payloads.put("job-a", data);
    expect(ref.byte_size).toBe(5 * MB);
    expect(ref.object_ref.startsWith("job-a/")).toBe(true);
    const back = await env.bus.payloads.get(ref, { jobId: "job-a", maxBytes: 6 * MB });
    expect(Buffer.from(back).equals(data)).toBe(true);
  });

  it("refuses a reference owned by another job, for reads and deletes", async () => {
    const ref = await env.bus.payloads.put("job-b", new Uint8Array([1]));
    await expect(env.bus.payloads.get(ref, { jobId: "job-c", maxBytes: 10 })).rejects.toBeInstanceOf(PayloadNotOwnedError);
    await expect(env.bus.payloads.delete(ref, { jobId: "job-c" })).rejects.toBeInstanceOf(PayloadNotOwnedError);
    // A job id that is a prefix of the owner's is not the owner.
    await expect(env.bus.payloads.get(ref, { jobId: "job-", maxBytes: 10 })).rejects.toBeInstanceOf(PayloadNotOwnedError);
  });

  it("refuses before reading when the declared size exceeds max_bytes", async () => {
    const ref = await env.bus.payloads.put("job-d", randomBytes(2048));
    await expect(env.bus.payloads.get(ref, { jobId: "job-d", maxBytes: 1024 })).rejects.toBeInstanceOf(PayloadTooLargeError);
  });

  it("stops reading when more than max_bytes arrive, whatever the reference claims", async () => {
    const ref = await env.bus.payloads.put("job-e", randomBytes(5 * MB));
    const lying = { ...ref, byte_size: 10 };
    await expect(env.bus.payloads.get(lying, { jobId: "job-e", maxBytes: MB })).rejects.toBeInstanceOf(PayloadTooLargeError);
  });

  it("reports a missing object and deletes", async () => {
    const ref = await env.bus.payloads.put("job-f", new Uint8Array([1, 2]));
    expect(await env.bus.payloads.delete(ref, { jobId: "job-f" })).toBe(true);
    expect(await env.bus.payloads.delete(ref, { jobId: "job-f" })).toBe(false);
    await expect(env.bus.payloads.get(ref, { jobId: "job-f", maxBytes: 10 })).rejects.toBeInstanceOf(PayloadMissingError);
    await expect(env.bus.payloads.get({ object_ref: "job-f/never", byte_size: 1 }, { jobId: "job-f", maxBytes: 10 })).rejects.toBeInstanceOf(PayloadMissingError);
  });
});
