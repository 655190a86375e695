/**
 * The `tessera` exit codes. Scripts branch on these, so a code never changes meaning.
 *
 * | code | meaning |
 * |---|---|
 * | 0 | ok |
 * | 1 | the operation ran and failed: a job failed or was cancelled, validation found problems, a bulk submit had rejects, the input is too large (a file over the limit, or the coordinator answered 413) |
 * | 2 | usage error: bad arguments or flags, a named file that does not exist or is not a regular file, a manifest that is not valid YAML, a request the coordinator rejected as invalid, a production deployment that breaks a guard rail (`TESSERA_ENV`) |
 * | 3 | cannot reach the coordinator (connection refused, DNS, timeout) or it answered that it is unavailable |
 * | 4 | not found: the job, component or dead letter does not exist |
 * | 5 | conflict: the job is already finished (cancel) or not dead-lettered (redrive) |
 * | 6 | locked: another `tessera deploy` or `rollback` holds the component's deploy lock (the message names the holder and when it expires) |
 */
export const ExitCode = {
  Ok: 0,
  Failed: 1,
  Usage: 2,
  Unreachable: 3,
  NotFound: 4,
  Conflict: 5,
  Locked: 6,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
