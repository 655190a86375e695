import { hmacSha256, refuse, sameMac, VERIFIED } from "./verify.js";
import type { VerifyOutcome } from "./verify.js";

/*
 * GitHub's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`. The scheme has no timestamp: a replay
 * is caught by the inbound dedup key (the delivery id) instead.
 */

export const GITHUB_SIGNATURE_HEADER = "x-hub-signature-256";

export function signGitHub(secret: string, body: Uint8Array | string): string {
  return `sha256=${hmacSha256(secret, body).toString("hex")}`;
}

export function verifyGitHub(check: {
  headers: Readonly<Record<string, string | undefined>>;
  body: Uint8Array;
  secrets: readonly string[];
}): VerifyOutcome {
  const header = check.headers[GITHUB_SIGNATURE_HEADER];
  if (check.secrets.length === 0) return refuse("secret_missing", "the account has no webhook secret");
  if (header === undefined || header === "")
    return refuse("signature_missing", "header X-Hub-Signature-256 is missing");
  const match = /^sha256=([0-9a-f]{64})$/.exec(header.trim());
  if (match === null) return refuse("signature_malformed", "header X-Hub-Signature-256: expected sha256=<64 hex>");
  const given = Buffer.from(match[1]!, "hex");
  for (const secret of check.secrets) if (sameMac(hmacSha256(secret, check.body), given)) return VERIFIED;
  return refuse("signature_mismatch", "X-Hub-Signature-256 does not match an accepted secret");
}
