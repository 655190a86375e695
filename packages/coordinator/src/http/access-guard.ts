import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ApiError } from "./api-error.js";

/** Who may change state through the admin API: decided once from how the server was started. */
export interface AccessPolicy {
  /** The address the server listens on. */
  host: string;
  /** The admin token, when one is configured. */
  token: string | undefined;
  /** Host names requests may name besides localhost and IP addresses (host-check.ts); undefined = none configured. */
  allowedHosts?: readonly string[] | undefined;
}

/** The guard's answer for one request. */
export type AccessDecision =
  | { allowed: true; by: "token" | "loopback" }
  | { allowed: false; status: 401 | 403; code: "unauthorized" | "forbidden"; message: string };

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (bare === "localhost") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  return bare === "::1" || /^::ffff:127\./.test(bare);
}

function sameSecret(given: string, expected: string): boolean {
  // Digests have one length, so the comparison takes the same time whatever was sent.
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = typeof header === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

/** Whether a request without the admin token may change state: only when none is configured and the API listens on loopback. */
export function changesWithoutToken(policy: Pick<AccessPolicy, "host" | "token">): boolean {
  return policy.token === undefined && isLoopbackHost(policy.host);
}

/**
 * With a token configured, a change needs `Authorization: Bearer <token>` wherever the server listens.
 * Without one, changes are allowed only when it listens on loopback; elsewhere the API is read-only.
 */
export function decideAccess(policy: AccessPolicy, request: FastifyRequest): AccessDecision {
  if (policy.token !== undefined) {
    const sent = bearer(request);
    if (sent !== undefined && sameSecret(sent, policy.token)) return { allowed: true, by: "token" };
    const why = sent === undefined ? "send it as `Authorization: Bearer <token>`" : "the token sent does not match";
    return {
      allowed: false,
      status: 401,
      code: "unauthorized",
      message: `this coordinator requires its admin token (TESSERA_ADMIN_TOKEN) for changes: ${why}`,
    };
  }
  if (changesWithoutToken(policy)) return { allowed: true, by: "loopback" };
  return {
    allowed: false,
    status: 403,
    code: "forbidden",
    message: `read-only: the admin API listens on ${policy.host}, not on loopback, and no admin token is configured; set TESSERA_ADMIN_TOKEN on the coordinator to allow changes`,
  };
}

/** What `GET /api/v1/access` answers: which rule applies, whether this request may change state, and why. */
export function describeAccess(
  policy: AccessPolicy,
  request: FastifyRequest,
): { mode: "open" | "token" | "read_only"; canChange: boolean; tokenAccepted: boolean; message: string } {
  const decision = decideAccess(policy, request);
  const mode = policy.token !== undefined ? "token" : isLoopbackHost(policy.host) ? "open" : "read_only";
  if (!decision.allowed) return { mode, canChange: false, tokenAccepted: false, message: decision.message };
  const message =
    decision.by === "token"
      ? "changes allowed: the admin token was accepted"
      : `changes allowed: the admin API listens on loopback (${policy.host}) and no admin token is configured`;
  return { mode, canChange: true, tokenAccepted: decision.by === "token", message };
}

/**
 * A browser sends `Origin` with every cross-site POST. A page on another site must not be able to make the
 * operator's browser cancel or redrive jobs on a loopback coordinator, so a foreign origin is refused.
 */
function foreignOrigin(request: FastifyRequest): string | undefined {
  const origin = request.headers.origin;
  if (origin === undefined || origin === "null") return origin;
  try {
    // Through URL on both sides, so a default port (`:80`) written on one side only still matches.
    return new URL(origin).host === new URL(`http://${request.headers.host ?? ""}`).host ? undefined : origin;
  } catch {
    return origin;
  }
}

/** What a request was allowed by, for the audit log. */
export const accessOf = new WeakMap<FastifyRequest, AccessDecision>();

/** Runs on every route flagged `config.mutating`, once the body is parsed (so a refusal is audited with its target) and before it is validated. */
export function installAccessGuard(app: FastifyInstance, policy: AccessPolicy): void {
  app.addHook("preValidation", async (request) => {
    if (request.routeOptions.config.mutating !== true) return;
    const origin = foreignOrigin(request);
    const decision: AccessDecision =
      origin !== undefined
        ? {
            allowed: false,
            status: 403,
            code: "forbidden",
            message: `refused a change requested from another origin (${origin}); use the dashboard served by this coordinator`,
          }
        : decideAccess(policy, request);
    accessOf.set(request, decision);
    if (!decision.allowed) throw new ApiError(decision.status, decision.code, decision.message);
  });
}
