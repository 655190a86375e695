import { pageNewestFirst } from "../store/paging.js";
import {
  SqlStateError,
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

/** The audit log in this process's memory, beside the memory job store: SqlAuditLog's behaviour, newest first when read. */
export class MemoryAuditLog implements AuditLog {
  private readonly entries: Held[] = [];

  async record(entry: AuditRecord): Promise<AuditEntry> {
    const e = clipAuditRecord(entry);
    if (!OUTCOMES.has(e.outcome))
      throw new SqlStateError(
        "23514",
        'new row for relation "tessera_audit" violates check constraint "tessera_audit_outcome_check"',
      );
    const held: Held = {
      id: this.entries.length + 1,
      at: Date.now(),
      action: storableText(e.action),
      target: storableText(e.target),
      jobIds: e.jobIds.map(storableText),
      actor: storableJson(JSON.stringify(e.actor)),
      outcome: e.outcome,
      status: storableInteger(e.status, "integer"),
      detail: storableNullableText(e.detail),
    };
    this.entries.push(held);
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
