import type { SqlExecutor } from "../sql/sql-client.js";
import { decodeCursor, encodeCursor, pageLimit } from "../store/paging.js";
import type { AuditEntry, AuditLog, AuditRecord, Page } from "../types.js";
import { clipAuditRecord } from "./clip-audit-record.js";

interface AuditRow extends Record<string, unknown> {
  id: number;
  at: Date | string;
  action: string;
  target: string;
  job_ids: string[];
  actor: AuditEntry["actor"];
  outcome: AuditEntry["outcome"];
  status: number;
  detail: string | null;
}

function toEntry(row: AuditRow): AuditEntry {
  return {
    id: Number(row.id),
    at: new Date(row.at).toISOString(),
    action: row.action,
    target: row.target,
    jobIds: row.job_ids,
    actor: row.actor,
    outcome: row.outcome,
    status: row.status,
    detail: row.detail,
  };
}

/** The audit log in the coordinator's database (table tessera_audit): append only, newest first when read. */
export class SqlAuditLog implements AuditLog {
  constructor(private readonly sql: SqlExecutor) {}

  async record(entry: AuditRecord): Promise<AuditEntry> {
    const e = clipAuditRecord(entry);
    const res = await this.sql.query<AuditRow>(
      `INSERT INTO tessera_audit (action, target, job_ids, actor, outcome, status, detail) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [e.action, e.target, e.jobIds, JSON.stringify(e.actor), e.outcome, e.status, e.detail],
    );
    return toEntry(res.rows[0] as AuditRow);
  }

  async list(filter: { jobId?: string; cursor?: string; limit?: number } = {}): Promise<Page<AuditEntry>> {
    const limit = pageLimit(filter.limit);
    const params: unknown[] = [];
    const where: string[] = [];
    if (filter.jobId !== undefined) {
      params.push(filter.jobId);
      where.push(`$${params.length} = ANY (job_ids)`);
    }
    if (filter.cursor !== undefined) {
      params.push(decodeCursor("a", filter.cursor));
      where.push(`id < $${params.length}`);
    }
    params.push(limit + 1);
    const res = await this.sql.query<AuditRow>(
      `SELECT * FROM tessera_audit ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    const rows = res.rows.slice(0, limit);
    const last = rows.at(-1);
    return {
      items: rows.map(toEntry),
      nextCursor: res.rows.length > limit && last !== undefined ? encodeCursor("a", last.id) : null,
    };
  }
}
