import type { SendCommand } from "@tessera/contract";
import type { DeliveryResult, OutboundAdapter, SendContext } from "../adapter.js";
import {
  deliveryErrorFromStatus,
  deliveryErrorFromThrown,
  parseRetryAfter,
  platformCode,
} from "../outbound/delivery-errors.js";

/*
 * chat.postMessage and chat.update. Slack answers most failures with HTTP 200 and `{ok: false, error}`, so the
 * status alone cannot be routed: the error word decides (a few mean "try again", the rest are permanent).
 */

export const SLACK_API_BASE = "https://slack.com/api/";
/** Slack's error words that a later try can succeed past. */
const RETRYABLE = new Set(["internal_error", "fatal_error", "service_unavailable", "request_timeout"]);
const REQUEST_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface SlackOutboundOptions {
  /** Where the Web API is; a test points it at its fake. */
  apiBase?: string;
}

async function call(method: string, payload: object, ctx: SendContext, apiBase: string): Promise<DeliveryResult> {
  const token = ctx.account.credentials?.["botToken"];
  if (token === undefined)
    return {
      ok: false,
      error: {
        code: "credentials_missing",
        detail: "the account has no botToken",
        retryable: false,
        rateLimited: false,
      },
    };
  let res;
  try {
    res = await ctx.egress.fetch(new URL(method, apiBase), {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json; charset=utf-8" },
      body: JSON.stringify(payload),
      timeoutMs: REQUEST_TIMEOUT_MS,
      maxBytes: MAX_RESPONSE_BYTES,
      maxRedirects: 0,
      signal: ctx.signal,
    });
  } catch (err) {
    return { ok: false, error: deliveryErrorFromThrown(err) };
  }
  const now = new Date();
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => undefined);
    return { ok: false, error: deliveryErrorFromStatus(res.status, res.headers.get("retry-after"), now) };
  }
  let body: { ok?: unknown; error?: unknown; ts?: unknown };
  try {
    body = (await res.json()) as typeof body;
  } catch (err) {
    return { ok: false, error: { ...deliveryErrorFromThrown(err), code: "slack_bad_response", httpStatus: 200 } };
  }
  if (body.ok === true)
    return { ok: true, httpStatus: 200, ...(typeof body.ts === "string" ? { platformMessageId: body.ts } : {}) };
  const word = String(body.error ?? "unknown");
  const rateLimited = word === "ratelimited" || word === "rate_limited";
  const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"), now);
  return {
    ok: false,
    error: {
      code: platformCode("slack", word),
      detail: `${method}: ${word}`,
      httpStatus: 200,
      rateLimited,
      retryable: rateLimited || RETRYABLE.has(word),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    },
  };
}

export function slackOutbound(options: SlackOutboundOptions = {}): OutboundAdapter {
  const apiBase = options.apiBase ?? SLACK_API_BASE;
  return {
    channelType: "slack",
    capabilities: { edit: true, threads: true, attachments: false },
    // Slack limits chat.postMessage per channel (about one a second, short bursts allowed).
    defaultRateLimit: { perSecond: 1, burst: 3 },
    rateLimitKey: (c: SendCommand) =>
      JSON.stringify(["slack", c.scope.tenant, c.scope.account, c.destination.conversation]),
    send: (c, ctx) =>
      call(
        "chat.postMessage",
        {
          channel: c.destination.conversation,
          text: c.text,
          ...(c.destination.thread !== undefined ? { thread_ts: c.destination.thread } : {}),
        },
        ctx,
        apiBase,
      ),
    edit: (c, ctx) =>
      call("chat.update", { channel: c.destination.conversation, ts: c.edit_target, text: c.text }, ctx, apiBase),
  };
}
