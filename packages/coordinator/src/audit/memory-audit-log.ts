import { pageNewestFirst } from "../store/paging.js";
import {
  ConstraintViolationError,
  storableInteger,
  storableJson,
  storableNullableText,
  storableText,
} from "../store/storable-values.js";
import type { AuditEntry, AuditLog, AuditRecord, Page } from "../types.js";
import { clipAuditRecord } from "./clip-audit-record.js";

const OUTCOMES: ReadonlySet<string> = new Set<AuditEntry["outcome"]>(["ok", "refused", "failed"]);

/** An entry as held: the actor as its JSON text (a jsonb column in SQL), so that nothing handed out is shared. */
type Held = Omit<AuditEntry, "at" | "actor" | "jobIds"> & { at: number; actor: string; jobIds: readonly string[] };

/** How many entries the memory audit log keeps unless told otherwise: a few MiB at the 1 KiB per text it allows. */
export const DEFAULT_MAX_AUDIT_ENTRIES = 10_000;

/**
 * The audit log in this process's memory, beside the memory job store: SqlAuditLog's behaviour, newest first
 * when read, except that it keeps only the newest `maxEntries` (whatever clients send, memory stays bounded;
 * the memory store loses everything on exit anyway).
 */
export class MemoryAuditLog implements AuditLog {
  private readonly entries: Held[] = [];
  private lastId = 0;

  constructor(private readonly maxEntries = DEFAULT_MAX_AUDIT_ENTRIES) {}

  async record(entry: AuditRecord): Promise<AuditEntry> {
    const e = clipAuditRecord(entry);
    if (!OUTCOMES.has(e.outcome))
      throw new ConstraintViolationError(
        "23514",
        'new row for relation "tessera_audit" violates check constraint "tessera_audit_outcome_check"',
      );
    const held: Held = {
      id: this.lastId + 1,
      at: Date.now(),
      action: storableText(e.action),
      target: storableText(e.target),
      jobIds: e.jobIds.map(storableText),
      actor: storableJson(JSON.stringify(e.actor)),
      outcome: e.outcome,
      status: storableInteger(e.status, "integer"),
      detail: storableNullableText(e.detail),
    };
    this.lastId = held.id;
    this.entries.push(held);
    // Ids keep growing past an evicted entry, so a cursor into the evicted part simply ends its listing.
    if (this.entries.length > this.maxEntries) this.entries.shift();
    return toEntry(held);
  }

  async list(filter: { jobId?: string; cursor?: string; limit?: number } = {}): Promise<Page<AuditEntry>> {
    const { jobId } = filter;
    return pageNewestFirst(
      this.entries,
      (e) => e.id,
      filter,
      "a",
      (e) => jobId === undefined || e.jobIds.includes(jobId),
      toEntry,
    );
  }
}

function toEntry(held: Held): AuditEntry {
  return {
    ...held,
    at: new Date(held.at).toISOString(),
    jobIds: [...held.jobIds],
    actor: JSON.parse(held.actor) as AuditEntry["actor"],
  };
}
