/*
 * Where archive files go. Both operations are atomic and durable when they resolve: a reader (or a restarted
 * sink) sees a whole file or none, and a file reported written survives a crash. The sink's crash safety rests on
 * exactly that (decision 0041).
 */

/** The sink's commit record for one consumer: everything up to `committed` is in files; `pending` may be partial. */
export interface ArchiveCheckpoint {
  /** The stream sequence of the last Message whose batch was fully written (0: none yet). */
  committed: number;
  /** The files of the batch being written when this was saved; removed (if present) before resuming. */
  pending: string[];
}

export interface ArchiveTarget {
  /** Writes `bytes` at `path` (relative, `/`-separated) atomically and durably, replacing what was there. */
  write(path: string, bytes: Uint8Array): Promise<void>;
  /** Removes `path` and any partial upload or temporary file of it; absent is fine. */
  remove(path: string): Promise<void>;
  readCheckpoint(consumer: string): Promise<ArchiveCheckpoint | undefined>;
  writeCheckpoint(consumer: string, checkpoint: ArchiveCheckpoint): Promise<void>;
  /** Every archive file's path under the target (tests and tools; the sink never lists). */
  list(): Promise<string[]>;
  /** The bytes at `path`, or undefined. */
  read(path: string): Promise<Uint8Array | undefined>;
}

export const CHECKPOINT_DIR = "_checkpoints";

export function checkpointPath(consumer: string): string {
  return `${CHECKPOINT_DIR}/${consumer}.json`;
}

export function parseCheckpoint(bytes: Uint8Array, where: string): ArchiveCheckpoint {
  const value = JSON.parse(new TextDecoder().decode(bytes)) as Partial<ArchiveCheckpoint>;
  if (
    !Number.isSafeInteger(value.committed) ||
    (value.committed as number) < 0 ||
    !Array.isArray(value.pending) ||
    !value.pending.every((p) => typeof p === "string")
  )
    throw new Error(`archive checkpoint ${where} is not {committed, pending}`);
  return { committed: value.committed as number, pending: value.pending };
}

export function serializeCheckpoint(checkpoint: ArchiveCheckpoint): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(checkpoint)}\n`);
}
