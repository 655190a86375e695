import { hmacSha256, parseUnixSeconds, refuse, sameMac, staleDetail, VERIFIED, withinTolerance } from "./verify.js";
import type { VerifyOutcome } from "./verify.js";

/*
 * Slack's `v0` signing: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<body>">` with the app's
 * signing secret, and `X-Slack-Request-Timestamp`, refused when more than five minutes from now.
 */

export const SLACK_TOLERANCE_SEC = 5 * 60;

export function signSlack(secret: string, timestampSec: number | string, body: Uint8Array | string): string {
  return `v0=${hmacSha256(secret, `v0:${timestampSec}:`, body).toString("hex")}`;
}

export function verifySlack(check: {
  headers: Readonly<Record<string, string | undefined>>;
  body: Uint8Array;
  secrets: readonly string[];
  now: Date;
  toleranceSec?: number;
}): VerifyOutcome {
  const tolerance = check.toleranceSec ?? SLACK_TOLERANCE_SEC;
  const header = check.headers["x-slack-signature"];
  const rawTimestamp = check.headers["x-slack-request-timestamp"];
  if (check.secrets.length === 0) return refuse("secret_missing", "the account has no signing secret");
  if (header === undefined || header === "") return refuse("signature_missing", "header X-Slack-Signature is missing");
  const timestamp = parseUnixSeconds(rawTimestamp);
  if (timestamp === undefined)
    return refuse("timestamp_missing", "header X-Slack-Request-Timestamp: expected seconds since the epoch");
  if (!withinTolerance(timestamp, check.now, tolerance))
    return refuse("timestamp_stale", staleDetail(timestamp, check.now, tolerance));
  const match = /^v0=([0-9a-f]{64})$/.exec(header.trim());
  if (match === null) return refuse("signature_malformed", "header X-Slack-Signature: expected v0=<64 hex>");
  const given = Buffer.from(match[1]!, "hex");
  for (const secret of check.secrets)
    if (sameMac(hmacSha256(secret, `v0:${rawTimestamp!.trim()}:`, check.body), given)) return VERIFIED;
  return refuse("signature_mismatch", "X-Slack-Signature does not match an accepted signing secret");
}
