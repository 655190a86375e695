export interface GroupCommitOptions<I> {
  /** Most items one write takes. */
  maxBatch: number;
  /** Writes in flight at once (more than one only helps a database with several connections). */
  concurrency: number;
  /**
   * Items with the same key never share a write: a later one waits for the next. For writes whose
   * statement cannot apply two changes to one row (an UPDATE ... FROM with two matches picks one).
   */
  conflictKey?: (item: I) => string;
}

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: concurrent callers' items are written together, one statement for many, which is what
 * lets a database keep up with thousands of submits or Results a second (a round trip and a commit per
 * item cost more than the item). A write starts as soon as one is allowed, with everything that arrived
 * in the same tick; what arrives while writes are in flight waits for the next one, so under load the
 * batches grow by themselves and an idle system adds no delay. `write` returns one outcome per item, in
 * order; if it throws, every item of that write is rejected with the error.
 */
export class GroupCommit<I, O> {
  private readonly waiting: Array<Waiting<I, O>> = [];
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly opts: GroupCommitOptions<I>,
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.running >= this.opts.concurrency || this.waiting.length === 0) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.running >= this.opts.concurrency || this.waiting.length === 0) return;
    const batch = this.take();
    this.running += 1;
    void this.write(batch.map((w) => w.item))
      .then(
        (outcomes) => {
          if (outcomes.length !== batch.length)
            throw new Error(`group commit: ${batch.length} items written but ${outcomes.length} outcomes returned`);
          batch.forEach((w, i) => w.resolve(outcomes[i] as O));
        },
        (err: unknown) => {
          for (const w of batch) w.reject(err);
        },
      )
      .catch((err: unknown) => {
        for (const w of batch) w.reject(err);
      })
      .finally(() => {
        this.running -= 1;
        this.schedule();
      });
    this.schedule();
  }

  /** The next batch, oldest first, skipping (and keeping for later) items whose key is already in it. */
  private take(): Array<Waiting<I, O>> {
    const key = this.opts.conflictKey;
    if (key === undefined) return this.waiting.splice(0, this.opts.maxBatch);
    const batch: Array<Waiting<I, O>> = [];
    const keys = new Set<string>();
    const kept: Array<Waiting<I, O>> = [];
    for (const w of this.waiting) {
      const k = key(w.item);
      if (batch.length < this.opts.maxBatch && !keys.has(k)) {
        keys.add(k);
        batch.push(w);
      } else kept.push(w);
    }
    this.waiting.splice(0, this.waiting.length, ...kept);
    return batch;
  }
}
