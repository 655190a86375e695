import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AuditEntry, Coordinator } from "../types.js";
import { accessOf } from "./access-guard.js";

const jobIdsOf = new WeakMap<FastifyRequest, string[]>();

/** A route handler names the jobs its request changed (beyond a `jobId` path parameter). */
export function auditJobIds(request: FastifyRequest, jobIds: string[]): void {
  jobIdsOf.set(request, jobIds);
}

function targetOf(request: FastifyRequest): string {
  const params = (request.params ?? {}) as Record<string, unknown>;
  const body = (request.body ?? {}) as Record<string, unknown>;
  for (const value of [params["jobId"], params["name"], body["component"]]) if (typeof value === "string") return value;
  return "";
}

function errorMessage(payload: unknown): string | null {
  if (typeof payload !== "string") return null;
  try {
    const message = (JSON.parse(payload) as { error?: { message?: unknown } }).error?.message;
    return typeof message === "string" ? message : null;
  } catch {
    return null;
  }
}

/**
 * Writes every request of a route with `config.audit` to the audit log once its answer is decided, allowed
 * or refused, before the answer is sent (so a client that reads the log next sees its own entry).
 */
export function installAuditLog(app: FastifyInstance, coordinator: Coordinator): void {
  app.addHook("onSend", async (request, reply, payload) => {
    const action = request.routeOptions.config.audit;
    if (action === undefined) return payload;
    const status = reply.statusCode;
    const access = accessOf.get(request);
    const params = (request.params ?? {}) as Record<string, unknown>;
    const entry: Omit<AuditEntry, "id" | "at"> = {
      action,
      target: targetOf(request),
      jobIds: jobIdsOf.get(request) ?? (typeof params["jobId"] === "string" ? [params["jobId"]] : []),
      actor: {
        remoteAddress: request.ip,
        token: access?.allowed === true && access.by === "token",
        userAgent: request.headers["user-agent"] ?? null,
      },
      outcome: status < 400 ? "ok" : status === 401 || status === 403 ? "refused" : "failed",
      status,
      detail: status < 400 ? null : errorMessage(payload),
    };
    try {
      await coordinator.audit.record(entry);
    } catch (err) {
      // The change (if any) is done; losing its audit line must not turn it into an error for the caller.
      request.log.error({ err, audit: entry }, "admin API: could not write the audit log");
    }
    return payload;
  });
}
