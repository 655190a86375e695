import type { DeadLetterRecord, JobState, Page } from "../types.js";
import { toDeadLetterRecord, type DeadLetterColumns } from "./job-row.js";
import { isDeleted } from "./memory-job-table.js";
import { pageNewestFirst } from "./paging.js";
import { TombstoneList } from "./tombstone-list.js";

/** One dead letter as the memory store holds it: tessera_dead_letters' columns, timestamps as epoch ms. */
export interface MemoryDeadLetterRow extends DeadLetterColumns {
  readonly seq: number;
  readonly component: string;
  readonly stream_seq: number;
  readonly job_id: string;
  readonly deliveries: number;
  readonly reason_code: string;
  readonly reason_detail: string;
  readonly dead_lettered_at: number;
  redriven_at: number | null;
  deleted: boolean;
}

export type NewDeadLetter = Omit<MemoryDeadLetterRow, "seq" | "dead_lettered_at" | "redriven_at" | "deleted">;

/**
 * The dead letters table and its indexes: in recording order (the listing's), by component and stream
 * position (its primary key), and by job.
 */
export class MemoryDeadLetters {
  private readonly list = new TombstoneList<MemoryDeadLetterRow>(isDeleted);
  private readonly byKey = new Map<string, Map<number, MemoryDeadLetterRow>>();
  private readonly byJob = new Map<string, MemoryDeadLetterRow[]>();
  private seq = 0;

  /** Every dead letter in recording order, tombstones included (readers skip the deleted ones). */
  get rows(): readonly MemoryDeadLetterRow[] {
    return this.list.rows;
  }

  /** Records the letter unless its component and stream position have one: returns that one, if any. */
  record(letter: NewDeadLetter, now: number): MemoryDeadLetterRow | undefined {
    let atSeq = this.byKey.get(letter.component);
    if (atSeq === undefined) this.byKey.set(letter.component, (atSeq = new Map()));
    const known = atSeq.get(letter.stream_seq);
    if (known !== undefined) return known;
    const dead: MemoryDeadLetterRow = {
      seq: ++this.seq,
      ...letter,
      dead_lettered_at: now,
      redriven_at: null,
      deleted: false,
    };
    atSeq.set(letter.stream_seq, dead);
    this.list.push(dead);
    const ofJob = this.byJob.get(letter.job_id);
    if (ofJob === undefined) this.byJob.set(letter.job_id, [dead]);
    else ofJob.push(dead);
    return undefined;
  }

  /** Whether the job has a dead letter not yet redriven. */
  awaitingRedrive(jobId: string): boolean {
    return this.byJob.get(jobId)?.some((d) => d.redriven_at === null) ?? false;
  }

  /** Jobs of the component with a dead letter not redriven, that are still failed (`stateOf` tells). */
  awaitingRedriveOf(component: string, stateOf: (jobId: string) => JobState | undefined): string[] {
    const ids = new Set<string>();
    for (const dead of this.list.rows) {
      if (
        !dead.deleted &&
        dead.component === component &&
        dead.redriven_at === null &&
        stateOf(dead.job_id) === "failed"
      )
        ids.add(dead.job_id);
    }
    return [...ids];
  }

  /** A page of dead letters, newest first, as listDeadLetters gives it (the component already checked). */
  page(filter: { component?: string; cursor?: string; limit?: number }): Page<DeadLetterRecord> {
    const { component } = filter;
    return pageNewestFirst(
      this.list.rows,
      (d) => d.seq,
      filter,
      "p",
      (d) => !d.deleted && (component === undefined || d.component === component),
      toDeadLetterRecord,
    );
  }

  /** Marks the job's dead letters redriven (those not already). */
  redriven(jobId: string, now: number): void {
    for (const dead of this.byJob.get(jobId) ?? []) dead.redriven_at ??= now;
  }

  /** Deletes the job's dead letters, as retention's DELETE does with its job. */
  deleteOfJob(jobId: string): void {
    for (const dead of this.byJob.get(jobId) ?? []) {
      dead.deleted = true;
      const atSeq = this.byKey.get(dead.component);
      if (atSeq?.get(dead.stream_seq) === dead) atSeq.delete(dead.stream_seq);
      this.list.deleted();
    }
    this.byJob.delete(jobId);
  }
}
