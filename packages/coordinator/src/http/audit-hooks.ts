import { connectionId } from "@tessera/client/schemas";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AuditEntry, AuditRecord, Coordinator } from "../types.js";
import { accessOf } from "./access-guard.js";

const jobIdsOf = new WeakMap<FastifyRequest, string[]>();

/** A route handler names the jobs its request changed (beyond a `jobId` path parameter). */
export function auditJobIds(request: FastifyRequest, jobIds: string[]): void {
  jobIdsOf.set(request, jobIds);
}

const targetsOf = new WeakMap<FastifyRequest, string>();

/** A route handler names what its request changed when no parameter does (the OAuth callback's connection). */
export function auditTarget(request: FastifyRequest, target: string): void {
  targetsOf.set(request, target);
}

function targetOf(request: FastifyRequest): string {
  const named = targetsOf.get(request);
  if (named !== undefined) return named;
  const params = (request.params ?? {}) as Record<string, unknown>;
  const body = (request.body ?? {}) as Record<string, unknown>;
  for (const at of [params, body])
    if (typeof at["provider"] === "string" && typeof at["userId"] === "string")
      return connectionId(at["provider"], at["userId"]);
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

/** How refused requests are recorded: the first few one by one, then one entry counting the rest. */
export interface RefusalLimits {
  /** Refused requests recorded one by one per client, action and status in each window. */
  perWindow: number;
  windowMs: number;
  /** Clients tracked at once; refusals from any more share one count. */
  maxClients: number;
}

export const DEFAULT_REFUSAL_LIMITS: RefusalLimits = { perWindow: 5, windowMs: 60_000, maxClients: 256 };

/** Stands for every client past `maxClients` in a summary entry. */
const OTHER_CLIENTS = "(other clients)";

interface RefusalWindow {
  start: number;
  recorded: number;
  unrecorded: number;
  /** The latest refusal left unrecorded, as the summary's sample. */
  last: AuditRecord | undefined;
}

/**
 * Keeps refused requests from filling the audit log: a client that sends thousands of refused changes gets
 * `perWindow` entries and one more saying how many followed, per window. Allowed and failed changes are
 * always recorded one by one (they passed the access guard).
 */
class RefusalCounter {
  private readonly windows = new Map<string, RefusalWindow>();

  constructor(private readonly limits: RefusalLimits) {}

  /** What to record for this refusal: itself, nothing (it is counted), and a window's summary once it ended. */
  admit(entry: AuditRecord, now: number): AuditRecord[] {
    let key = `${entry.actor.remoteAddress} ${entry.action} ${entry.status}`;
    if (!this.windows.has(key) && this.windows.size >= this.limits.maxClients)
      key = `${OTHER_CLIENTS} ${entry.action} ${entry.status}`;
    const out: AuditRecord[] = [];
    let window = this.windows.get(key);
    if (window !== undefined && now - window.start >= this.limits.windowMs) {
      out.push(...this.summaryOf(window, now));
      window = undefined;
    }
    if (window === undefined) {
      window = { start: now, recorded: 0, unrecorded: 0, last: undefined };
      this.windows.set(key, window);
    }
    if (window.recorded < this.limits.perWindow) {
      window.recorded += 1;
      out.push(entry);
    } else {
      window.unrecorded += 1;
      window.last = key.startsWith(OTHER_CLIENTS)
        ? { ...entry, actor: { ...entry.actor, remoteAddress: OTHER_CLIENTS } }
        : entry;
    }
    return out;
  }

  /** The summaries of every window that has ended (of all of them with `all`), which are then forgotten. */
  ended(now: number, all = false): AuditRecord[] {
    const out: AuditRecord[] = [];
    for (const [key, window] of this.windows) {
      if (!all && now - window.start < this.limits.windowMs) continue;
      this.windows.delete(key);
      out.push(...this.summaryOf(window, now));
    }
    return out;
  }

  private summaryOf(window: RefusalWindow, now: number): AuditRecord[] {
    const { last } = window;
    if (window.unrecorded === 0 || last === undefined) return [];
    const detail = `${window.unrecorded} more refused ${last.action} requests from ${last.actor.remoteAddress} (status ${last.status}) between ${new Date(window.start).toISOString()} and ${new Date(now).toISOString()}, not recorded one by one (${this.limits.perWindow} are, per client and action every ${this.limits.windowMs / 1000} s); the last was refused with: ${last.detail ?? ""}`;
    return [{ ...last, detail }];
  }
}

/**
 * Writes every request of a route with `config.audit` to the audit log once its answer is decided, allowed
 * or refused, before the answer is sent (so a client that reads the log next sees its own entry). Refused
 * requests past `limits.perWindow` per client are counted into one entry instead (RefusalCounter).
 */
export function installAuditLog(
  app: FastifyInstance,
  coordinator: Coordinator,
  limits: RefusalLimits = DEFAULT_REFUSAL_LIMITS,
): void {
  const write = async (entries: readonly AuditRecord[], log = app.log): Promise<void> => {
    for (const entry of entries) {
      try {
        await coordinator.audit.record(entry);
      } catch (err) {
        // The change (if any) is done; losing its audit line must not turn it into an error for the caller.
        log.error({ err, audit: entry }, "admin API: could not write the audit log");
      }
    }
  };
  const refusals = new RefusalCounter(limits);
  // A client that stops sending still gets its summary written once its window ends.
  const timer = setInterval(() => void write(refusals.ended(Date.now())), limits.windowMs);
  timer.unref();
  app.addHook("onClose", async () => {
    clearInterval(timer);
    await write(refusals.ended(Date.now(), true));
  });

  app.addHook("onSend", async (request, reply, payload) => {
    const action = request.routeOptions.config.audit;
    if (action === undefined) return payload;
    const status = reply.statusCode;
    const access = accessOf.get(request);
    const params = (request.params ?? {}) as Record<string, unknown>;
    const outcome: AuditEntry["outcome"] =
      status < 400 ? "ok" : status === 401 || status === 403 ? "refused" : "failed";
    // A route anyone may call (its one-time secret is the check) gets its 4xx answers counted like refusals.
    const bounded = outcome === "refused" || (request.routeOptions.config.open === true && status < 500);
    const entry: AuditRecord = {
      action,
      target: targetOf(request),
      jobIds: jobIdsOf.get(request) ?? (typeof params["jobId"] === "string" ? [params["jobId"]] : []),
      actor: {
        remoteAddress: request.ip,
        token: access?.allowed === true && access.by === "token",
        userAgent: request.headers["user-agent"] ?? null,
      },
      outcome,
      status,
      detail: status < 400 ? null : errorMessage(payload),
    };
    await write(bounded ? refusals.admit(entry, Date.now()) : [entry], request.log);
    return payload;
  });
}
