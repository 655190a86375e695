import { AdminApiError, type AdminClient, type ErrorCode, type JobState, type SubmitJobBody } from "@tessera/client";
import { apiErrorToCliError } from "../admin-client.js";
import type { CliIo } from "../cli-io.js";
import { mapWithConcurrency } from "../concurrency/map-with-concurrency.js";
import { createProgress } from "../output/progress.js";
import { fileInput, UnsendableFileError } from "./submit-input.js";

const SUBMIT_CONCURRENCY = 8;
const PER_FILE_ERRORS: ReadonlySet<ErrorCode> = new Set(["invalid_request", "payload_too_large", "conflict"]);

export interface BulkItem {
  file: string;
  jobId?: string;
  /** False when the idempotency key matched an existing job. */
  created?: boolean;
  state?: JobState;
  /** After --wait: the reason code of a failed or cancelled job. */
  reasonCode?: string;
  /** Why the coordinator refused this file's job (the other files still went in). */
  error?: string;
}

/**
 * Submits one job per file, `SUBMIT_CONCURRENCY` at a time, with a progress line on stderr. A refusal that
 * concerns one file (not a regular file, too large, invalid request, conflict) is recorded and the rest go on; one that concerns them all
 * (unknown component, coordinator unreachable or unavailable) stops the run.
 */
export async function bulkSubmit(
  client: AdminClient,
  io: CliIo,
  files: readonly string[],
  base: Omit<SubmitJobBody, "input">,
): Promise<BulkItem[]> {
  const progress = createProgress(io.stderr);
  let finished = 0;
  let rejected = 0;
  const items = await mapWithConcurrency(files, SUBMIT_CONCURRENCY, async (file): Promise<BulkItem> => {
    let item: BulkItem;
    try {
      const request: SubmitJobBody = {
        ...base,
        input: await fileInput(file, "--file"),
        // One key for many jobs would collapse them into one; each file gets its own, still stable across re-runs.
        ...(base.idempotencyKey !== undefined ? { idempotencyKey: `${base.idempotencyKey}:${file}` } : {}),
      };
      const outcome = await client.submit(request);
      item = { file, jobId: outcome.jobId, created: outcome.created, state: outcome.state };
    } catch (err) {
      const perFile =
        err instanceof UnsendableFileError || (err instanceof AdminApiError && PER_FILE_ERRORS.has(err.code));
      if (!perFile) {
        if (finished > 0) progress.done(`stopped after ${finished} of ${files.length} files`);
        throw err;
      }
      rejected++;
      const shown = err instanceof AdminApiError ? apiErrorToCliError(err) : err;
      item = { file, error: [shown.message, ...shown.details].join("; ") };
    }
    finished++;
    progress.update(
      `submitting to ${base.component}: ${finished}/${files.length}${rejected > 0 ? ` (${rejected} rejected)` : ""}`,
    );
    return item;
  });
  progress.done(
    `submitted ${files.length - rejected} of ${files.length} files to ${base.component}${rejected > 0 ? ` (${rejected} rejected)` : ""}`,
  );
  return items;
}
