import type { JSX } from "preact";
import { useState } from "preact/hooks";

/** Newest-first cursor paging: the cursors of the pages walked so far, reset when `resetKey` changes. */
export function useCursorPages(resetKey: string): {
  cursor: string | undefined;
  page: number;
  newer(): void;
  older(next: string): void;
} {
  const [state, setState] = useState<{ key: string; cursors: string[] }>({ key: resetKey, cursors: [] });
  const cursors = state.key === resetKey ? state.cursors : [];
  return {
    cursor: cursors.at(-1),
    page: cursors.length + 1,
    newer: () => setState({ key: resetKey, cursors: cursors.slice(0, -1) }),
    older: (next) => setState({ key: resetKey, cursors: [...cursors, next] }),
  };
}

export function Pager(props: {
  pages: ReturnType<typeof useCursorPages>;
  nextCursor: string | null | undefined;
}): JSX.Element {
  const { pages, nextCursor } = props;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={pages.page === 1} onClick={pages.newer}>
        ← Newer
      </button>
      <span class="muted">page {pages.page}</span>
      <button type="button" disabled={nextCursor == null} onClick={() => nextCursor != null && pages.older(nextCursor)}>
        Older →
      </button>
    </nav>
  );
}
