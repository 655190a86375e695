import type { Page } from "@tessera/client";

/**
 * Fetches the page at `cursor` and, with `all`, every page after it. Returns the items and the cursor
 * after the last page fetched (null once the list is exhausted).
 */
export async function collectPages<T>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
  opts: { cursor?: string; all: boolean },
): Promise<Page<T>> {
  let page = await fetchPage(opts.cursor);
  const items = [...page.items];
  while (opts.all && page.nextCursor !== null) {
    page = await fetchPage(page.nextCursor);
    items.push(...page.items);
  }
  return { items, nextCursor: page.nextCursor };
}
