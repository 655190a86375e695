import { invalidRequest } from "../errors.js";
import type { SqlExecutor } from "../sql/sql-client.js";
import type { AuditEntry, AuditLog, AuditRecord, Page } from "../types.js";

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;
/** Bounds what one entry can hold, whatever a client sent (a user agent, an error message). */
const MAX_TEXT = 1_024;

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

const clip = (text: string): string => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text).replaceAll("\u0000", "");

/** The audit log in the coordinator's database (table tessera_audit): append only, newest first when read. */
export class SqlAuditLog implements AuditLog {
  constructor(private readonly sql: SqlExecutor) {}

  async record(entry: AuditRecord): Promise<AuditEntry> {
    const actor = { ...entry.actor, remoteAddress: clip(entry.actor.remoteAddress), userAgent: entry.actor.userAgent === null ? null : clip(entry.actor.userAgent) };
    const res = await this.sql.query<AuditRow>(
      `INSERT INTO tessera_audit (action, target, job_ids, actor, outcome, status, detail) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [entry.action, clip(entry.target), entry.jobIds, JSON.stringify(actor), entry.outcome, entry.status, entry.detail === null ? null : clip(entry.detail)],
    );
    return toEntry(res.rows[0] as AuditRow);
  }

  async list(filter: { jobId?: string; cursor?: string; limit?: number } = {}): Promise<Page<AuditEntry>> {
    const limit = filter.limit ?? DEFAULT_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw invalidRequest("limit", `an integer from 1 to ${MAX_PAGE}`, JSON.stringify(limit));
    const params: unknown[] = [];
    const where: string[] = [];
    if (filter.jobId !== undefined) {
      params.push(filter.jobId);
      where.push(`$${params.length} = ANY (job_ids)`);
    }
    if (filter.cursor !== undefined) {
      params.push(decodeCursor(filter.cursor));
      where.push(`id < $${params.length}`);
    }
    params.push(limit + 1);
    const res = await this.sql.query<AuditRow>(`SELECT * FROM tessera_audit ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT $${params.length}`, params);
    const rows = res.rows.slice(0, limit);
    const last = rows.at(-1);
    return { items: rows.map(toEntry), nextCursor: res.rows.length > limit && last !== undefined ? Buffer.from(`a:${last.id}`).toString("base64url") : null };
  }
}

function decodeCursor(cursor: string): number {
  const match = /^a:(\d{1,18})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (match === null) throw invalidRequest("cursor", "a cursor returned as nextCursor by a previous page", JSON.stringify(cursor));
  return Number(match[1]);
}
