/**
 * Rows in position order from which deleted rows are dropped lazily: a deleted row stays, marked (a
 * tombstone), until tombstones are a quarter of the array, and then the array is compacted in one pass.
 * Splicing each row out would cost the array's length per deletion, and retention deletes thousands of
 * rows from lists of 100,000 per pass; this way a deletion costs O(1) amortized (a compaction copies at
 * most four rows per tombstone it drops), and tombstones, which keep their rows alive, add at most a third
 * to the live rows.
 */
export class TombstoneList<T> {
  private items: T[] = [];
  private tombstones = 0;

  /** `isDeleted` tells a tombstone: the row itself carries the mark, so a row can sit in several lists. */
  constructor(private readonly isDeleted: (row: T) => boolean) {}

  /** Every row, tombstones included, in position order: readers skip the deleted ones. */
  get rows(): readonly T[] {
    return this.items;
  }

  push(row: T): void {
    this.items.push(row);
  }

  /** Counts one of its rows as newly marked deleted. */
  deleted(): void {
    this.tombstones += 1;
    // The floor keeps a small list from being copied on every few deletions.
    if (this.tombstones >= 64 && this.tombstones * 4 > this.items.length) {
      this.items = this.items.filter((row) => !this.isDeleted(row));
      this.tombstones = 0;
    }
  }
}
