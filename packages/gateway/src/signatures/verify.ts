import { createHmac, timingSafeEqual } from "node:crypto";

/** Why a request's signature was not accepted; the inbound server answers 401 with it. */
export type VerifyFailure =
  | "signature_missing"
  | "signature_malformed"
  | "signature_mismatch"
  | "timestamp_missing"
  | "timestamp_stale"
  | "secret_missing";

export type VerifyOutcome = { ok: true } | { ok: false; reason: VerifyFailure; detail: string };

export const VERIFIED: VerifyOutcome = Object.freeze({ ok: true });

export function refuse(reason: VerifyFailure, detail: string): VerifyOutcome {
  return { ok: false, reason, detail };
}

/** HMAC-SHA256 over the parts in order (no separator added). */
export function hmacSha256(key: string | Uint8Array, ...parts: (string | Uint8Array)[]): Buffer {
  const mac = createHmac("sha256", key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/** Constant-time comparison of two MACs; a length difference is answered without comparing bytes. */
export function sameMac(expected: Uint8Array, given: Uint8Array): boolean {
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Seconds since the epoch, as the schemes put in their timestamp headers. */
export function parseUnixSeconds(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,12}$/.test(text.trim())) return undefined;
  return Number(text.trim());
}

/** Whether `seconds` lies within `toleranceSec` of `now`, either side (a clock ahead is as suspect as behind). */
export function withinTolerance(seconds: number, now: Date, toleranceSec: number): boolean {
  return Math.abs(now.getTime() / 1000 - seconds) <= toleranceSec;
}

export function staleDetail(seconds: number, now: Date, toleranceSec: number): string {
  const skew = Math.round(now.getTime() / 1000 - seconds);
  return `timestamp ${seconds} is ${Math.abs(skew)} s ${skew >= 0 ? "old" : "in the future"}; the tolerance is ${toleranceSec} s`;
}
