import type { Result } from "@tessera/contract";
import { ReasonCode, sanitizeReasonDetail } from "@tessera/contract";
import type { Logger } from "pino";
import type { ApplyOutcome, JobStorage } from "../store/job-storage.js";
import { INT4_MAX, isUnstorableSqlState, UnstorableValueError } from "../store/storable-values.js";
import type { JobRecord } from "../types.js";

/** How often a completion hook is tried for one delivery of a Result, and the waits between tries. */
export const HOOK_RETRY_DELAYS_MS = [100, 400, 1_600] as const;

/** A completion hook that failed every try: the job is recorded failed (`chain_failed`) with its cause. */
export class ChainHookFailed extends Error {
  override readonly name = "ChainHookFailed";
  constructor(
    readonly component: string,
    readonly tries: number,
    cause: unknown,
  ) {
    super(`the onCompleted hook of ${component} failed ${tries} times: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
  }
}

/**
 * Runs a completion hook, trying again after HOOK_RETRY_DELAYS_MS when it throws (a passing fault), and
 * throws ChainHookFailed once every try failed: a hook that cannot succeed (its submit refused, a bug) must
 * not hold its Result, and the relay behind it, in a retry loop forever.
 */
export async function runHook(component: string, hook: () => Promise<void>, log: Logger, jobId: string): Promise<void> {
  for (let tries = 1; ; tries++) {
    try {
      await hook();
      return;
    } catch (err) {
      const delay = HOOK_RETRY_DELAYS_MS[tries - 1];
      log.warn({ err, jobId, component, tries }, `the onCompleted hook of ${component} failed`);
      if (delay === undefined) throw new ChainHookFailed(component, tries, err);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** The Result of a job whose completion hook failed for good: failed, `chain_failed`, naming the hook and why. */
export function chainFailed(result: Result, err: ChainHookFailed): Result {
  return {
    ...result,
    status: "failed",
    reason_code: ReasonCode.ChainFailed,
    reason_detail: sanitizeReasonDetail(err.message),
  };
}

/**
 * Records a Result in the store, `beforeApply` (a chain hook) first. A Result the database cannot hold (a NUL
 * character in the output, a number out of range, JSON nested too deeply) would fail the same way on every
 * redelivery, so the job is recorded failed with why instead of the Result coming back forever.
 */
export async function recordResult(
  store: JobStorage,
  result: Result,
  beforeApply: ((job: JobRecord) => Promise<void>) | undefined,
  log: Logger,
): Promise<ApplyOutcome> {
  try {
    return await store.applyResult(result, beforeApply);
  } catch (err) {
    if (err instanceof ChainHookFailed) {
      log.error({ err, jobId: result.job_id, component: result.component }, "recording the job failed: chain_failed");
      return recordResult(store, chainFailed(result, err), undefined, log);
    }
    if (!isUnstorableValue(err)) throw err;
    log.warn(
      { err, jobId: result.job_id, component: result.component },
      "a Result could not be stored as sent; recording the job failed",
    );
    return store.applyResult(unstorable(result, err as Error));
  }
}

/**
 * A value no store can hold, whatever the retry: the memory store's UnstorableValueError, or a Postgres
 * (or PGlite) error of class 22 (data exception: 22P05 untranslatable character, 22003 out of range, ...)
 * or 54 (a limit exceeded: 54001, JSON nested past the stack).
 */
export function isUnstorableValue(err: unknown): boolean {
  if (err instanceof UnstorableValueError) return true;
  const state = sqlStateOf(err);
  return state !== undefined && isUnstorableSqlState(state);
}

/** The SQLSTATE an error carries: a Postgres or PGlite error's, or the one an UnstorableValueError stands for. */
function sqlStateOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** SQLSTATEs of a timestamp Postgres refuses: its syntax, a field out of range, its time zone offset. */
const DATETIME_EXCEPTIONS = new Set(["22007", "22008", "22009"]);

/** The Result reduced to what the store can hold: failed, no output, and the database's reason. */
function unstorable(result: Result, err: Error): Result {
  const clean = (text: string): string => text.replaceAll("\u0000", "");
  // A finished_at of the contract's form that is no real time (February 30th, year 0, a +16:00 offset) fails
  // the fallback too, so it is replaced with now, which also lets the job count as decided after a redrive.
  const badTime = DATETIME_EXCEPTIONS.has(sqlStateOf(err) ?? "");
  return {
    ...result,
    status: "failed",
    reason_code: ReasonCode.InvalidOutput,
    reason_detail: sanitizeReasonDetail(
      clean(
        `the Result could not be stored: ${err.message}${badTime ? ` (finished_at ${JSON.stringify(result.finished_at)})` : ""}`,
      ),
    ),
    ...(badTime ? { finished_at: new Date().toISOString() } : {}),
    output: undefined,
    instance_id: result.instance_id === undefined ? undefined : clean(result.instance_id),
    duration_ms: result.duration_ms === undefined ? undefined : Math.min(Math.max(0, result.duration_ms), INT4_MAX),
  } as Result;
}
