import { hmacSha256, parseUnixSeconds, refuse, sameMac, staleDetail, VERIFIED, withinTolerance } from "./verify.js";
import type { VerifyOutcome } from "./verify.js";

/*
 * The Standard Webhooks `v1` scheme (https://www.standardwebhooks.com): HMAC-SHA256 over
 * `<webhook-id>.<webhook-timestamp>.<body>` with a base64 key written `whsec_<base64>`, sent as space-separated
 * `v1,<base64 signature>` entries so a sender can sign with an old and a new key while rotating.
 */

export const STANDARD_WEBHOOKS_TOLERANCE_SEC = 5 * 60;
const SECRET_PREFIX = "whsec_";

/** The key's bytes from `whsec_<base64>` (the prefix is optional). Throws on an empty or non-base64 key. */
export function standardWebhooksKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded))
    throw new TypeError("Standard Webhooks secret: expected whsec_ followed by base64");
  return Buffer.from(encoded, "base64");
}

export type StandardWebhookHeaders = {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
};

/** The `v1,<base64>` signature of one message. */
export function signStandardWebhook(
  secret: string,
  id: string,
  timestampSec: number,
  body: Uint8Array | string,
): string {
  const mac = hmacSha256(standardWebhooksKey(secret), `${id}.${timestampSec}.`, body);
  return `v1,${mac.toString("base64")}`;
}

/** The three headers a sender adds, signed with every key given (old and new during a rotation). */
export function standardWebhookHeaders(
  secrets: readonly string[],
  id: string,
  timestampSec: number,
  body: Uint8Array | string,
): StandardWebhookHeaders {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestampSec),
    "webhook-signature": secrets.map((s) => signStandardWebhook(s, id, timestampSec, body)).join(" "),
  };
}

export interface StandardWebhookCheck {
  headers: Readonly<Record<string, string | undefined>>;
  body: Uint8Array;
  /** Every key currently accepted (several while rotating). */
  secrets: readonly string[];
  now: Date;
  toleranceSec?: number;
}

/** Accepts when any `v1` signature in the header matches any accepted key. */
export function verifyStandardWebhook(check: StandardWebhookCheck): VerifyOutcome {
  const tolerance = check.toleranceSec ?? STANDARD_WEBHOOKS_TOLERANCE_SEC;
  const id = check.headers["webhook-id"];
  const header = check.headers["webhook-signature"];
  if (check.secrets.length === 0) return refuse("secret_missing", "the account has no signing secret");
  if (id === undefined || id === "") return refuse("signature_missing", "header webhook-id is missing");
  if (header === undefined || header === "") return refuse("signature_missing", "header webhook-signature is missing");
  const rawTimestamp = check.headers["webhook-timestamp"];
  const timestamp = parseUnixSeconds(rawTimestamp);
  if (timestamp === undefined)
    return refuse("timestamp_missing", "header webhook-timestamp: expected seconds since the epoch");
  if (!withinTolerance(timestamp, check.now, tolerance))
    return refuse("timestamp_stale", staleDetail(timestamp, check.now, tolerance));
  const given = header
    .split(" ")
    .filter((entry) => entry.startsWith("v1,"))
    .map((entry) => Buffer.from(entry.slice(3), "base64"));
  if (given.length === 0) return refuse("signature_malformed", "header webhook-signature: no v1 signature");
  for (const secret of check.secrets) {
    const expected = hmacSha256(standardWebhooksKey(secret), `${id}.${rawTimestamp!.trim()}.`, check.body);
    if (given.some((mac) => sameMac(expected, mac))) return VERIFIED;
  }
  return refuse("signature_mismatch", "no v1 signature matches an accepted key");
}
