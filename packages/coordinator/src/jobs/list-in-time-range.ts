import { invalidRequest } from "../errors.js";
import type { JobFilter, JobRecord, Page } from "../types.js";

const DEFAULT_PAGE = 50;
/** Rows one request may look at before it answers a short page with a cursor to go on from. */
const SCAN_BUDGET_ROWS = 5_000;

function instant(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw invalidRequest(field, "an RFC 3339 date-time such as 2026-11-23T14:30:00Z", JSON.stringify(value));
  return ms;
}

/**
 * A page of jobs created in [createdAfter, createdBefore), built on the store's newest-first pages.
 * Jobs newer than the range are skipped; the first job older than it ends the listing (creation order is
 * the store's order). A page may hold fewer than `limit` jobs and still have a `nextCursor` when the scan
 * budget ran out first: follow it as usual.
 */
export async function listInTimeRange(
  filter: JobFilter,
  page: (filter: JobFilter) => Promise<Page<JobRecord>>,
): Promise<Page<JobRecord>> {
  const after = instant(filter.createdAfter, "createdAfter");
  const before = instant(filter.createdBefore, "createdBefore");
  const { createdAfter: _a, createdBefore: _b, ...storeFilter } = filter;
  if (after === undefined && before === undefined) return page(storeFilter);
  const limit = filter.limit ?? DEFAULT_PAGE;
  const items: JobRecord[] = [];
  let cursor = filter.cursor;
  let scanned = 0;
  for (;;) {
    // Ask for exactly what is still missing, so every store page is used whole and its cursor stays valid.
    const next = await page({
      ...storeFilter,
      limit: limit - items.length,
      ...(cursor !== undefined ? { cursor } : {}),
    });
    scanned += next.items.length;
    for (const job of next.items) {
      const created = Date.parse(job.createdAt);
      if (after !== undefined && created < after) return { items, nextCursor: null };
      if (before === undefined || created < before) items.push(job);
    }
    if (next.nextCursor === null || items.length >= limit || scanned >= SCAN_BUDGET_ROWS)
      return { items, nextCursor: next.nextCursor };
    cursor = next.nextCursor;
  }
}
