export type ConditionStatus = "True" | "False" | "Unknown";

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}

export type ConditionUpdate = Pick<Condition, "type" | "status" | "reason" | "message">;

/**
 * The next `status.conditions`: one entry per type, in the order given. `lastTransitionTime` moves only
 * when a condition's status changes, as the Kubernetes API conventions ask, so re-reconciling an
 * unchanged object produces the same status and the controller can skip the status write.
 */
export function nextConditions(
  previous: readonly Condition[],
  updates: readonly ConditionUpdate[],
  generation: number,
  now: Date,
): Condition[] {
  return updates.map((u) => {
    const before = previous.find((c) => c.type === u.type);
    const lastTransitionTime =
      before !== undefined && before.status === u.status ? before.lastTransitionTime : now.toISOString();
    return { ...u, lastTransitionTime, observedGeneration: generation };
  });
}
