import type { SubmitInput } from "@tessera/coordinator";

/**
 * What the bench asks a coordinator replica process (`workers/coordinator-replica.ts`) to do, one JSON object a
 * line on its stdin. The replica answers each with a stdout line `{ event: "done", id, samples? }`.
 */
export type ReplicaCommand =
  /** Submit `jobs` jobs of `input`, `window` at once. */
  | { id: number; kind: "submit"; jobs: number; window: number; input: SubmitInput }
  /**
   * Submit at `rate` a second for `seconds` (open loop), and answer with each job's milliseconds from its submit
   * until this replica heard its Result recorded (by itself or by another replica).
   */
  | { id: number; kind: "latency"; rate: number; seconds: number; input: SubmitInput };

export interface ReplicaDone {
  event: "done";
  id: number;
  samples?: number[];
}
