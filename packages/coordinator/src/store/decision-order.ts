/** A row that can sit in one DecisionOrder at a time: the links are the row's own fields. */
export interface Ordered<T extends Ordered<T>> {
  older: T | null;
  newer: T | null;
  /** The list it is in, if any. */
  inOrder: DecisionOrder<T> | null;
}

/**
 * Rows in the order they were appended (for decided jobs: the order they were decided, so the oldest
 * decision is first), as an intrusive doubly linked list: appending, taking the oldest and removing any row
 * (a redriven job leaves it) are O(1), with nothing left behind to compact.
 */
export class DecisionOrder<T extends Ordered<T>> {
  private head: T | null = null;
  private tail: T | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The oldest row, or null. */
  oldest(): T | null {
    return this.head;
  }

  append(row: T): void {
    if (row.inOrder !== null) row.inOrder.remove(row);
    row.inOrder = this;
    row.older = this.tail;
    row.newer = null;
    if (this.tail === null) this.head = row;
    else this.tail.newer = row;
    this.tail = row;
    this.count += 1;
  }

  remove(row: T): void {
    if (row.inOrder !== this) return;
    if (row.older === null) this.head = row.newer;
    else row.older.newer = row.newer;
    if (row.newer === null) this.tail = row.older;
    else row.newer.older = row.older;
    row.older = null;
    row.newer = null;
    row.inOrder = null;
    this.count -= 1;
  }
}
