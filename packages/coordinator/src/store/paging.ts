import { invalidRequest } from "../errors.js";

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;

/** A page size from a caller (default 50), or a 400 naming `limit`. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)
    throw invalidRequest("limit", `an integer from 1 to ${MAX_PAGE}`, JSON.stringify(limit));
  return limit;
}

/**
 * Cursors are the last row's position under a prefix naming the listing (`p` for jobs and dead letters, `a`
 * for the audit log), base64url: opaque to clients, and one listing's cursor is refused by another.
 */
export function encodeCursor(prefix: string, position: number): string {
  return Buffer.from(`${prefix}:${position}`).toString("base64url");
}

export function decodeCursor(prefix: string, cursor: string): number {
  const match = /^([a-z]):(\d{1,18})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (match === null || match[1] !== prefix)
    throw invalidRequest("cursor", "a cursor returned as nextCursor by a previous page", JSON.stringify(cursor));
  return Number(match[2]);
}

/**
 * One page, newest first, of rows sorted by ascending position: those before the cursor's position that
 * `keep` accepts, and a cursor when more follow. `rows` is scanned from its end, so a page costs the rows it
 * passes over, not the listing's length.
 */
export function pageNewestFirst<R, T>(
  rows: readonly R[],
  positionOf: (row: R) => number,
  page: { cursor?: string; limit?: number },
  prefix: string,
  keep: (row: R) => boolean,
  toItem: (row: R) => T,
): { items: T[]; nextCursor: string | null } {
  const limit = pageLimit(page.limit);
  let end = rows.length;
  if (page.cursor !== undefined) {
    const before = decodeCursor(prefix, page.cursor);
    // Positions only grow along `rows`: the first row at or past the cursor ends the slice.
    let lo = 0;
    while (lo < end) {
      const mid = (lo + end) >>> 1;
      if (positionOf(rows[mid] as R) < before) lo = mid + 1;
      else end = mid;
    }
  }
  const picked: R[] = [];
  let more = false;
  for (let i = end - 1; i >= 0; i--) {
    const row = rows[i] as R;
    if (!keep(row)) continue;
    if (picked.length === limit) {
      more = true;
      break;
    }
    picked.push(row);
  }
  const last = picked.at(-1);
  return {
    items: picked.map(toItem),
    nextCursor: more && last !== undefined ? encodeCursor(prefix, positionOf(last)) : null,
  };
}
