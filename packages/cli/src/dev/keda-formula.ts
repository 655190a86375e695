/**
 * What KEDA does for a ScaledObject with one `nats-jetstream` trigger (lagThreshold = queueDepthTarget,
 * activationLagThreshold = activationLag), so that `tessera dev` scales the way the cluster will.
 *
 * In the cluster the work is split in two:
 * - KEDA's operator owns activation, 0 <-> 1: the scaler is active when lag > activationLagThreshold
 *   (strictly). It scales up from 0 as soon as it sees an active poll, and back to minReplicaCount only
 *   once cooldownPeriod has passed since the last active poll. cooldownPeriod applies to that last
 *   step only; a fresh ScaledObject with no activity goes straight to minReplicaCount.
 * - The HPA KEDA creates owns 1 <-> N with an AverageValue target: ceil(lag / lagThreshold) replicas,
 *   between max(minReplicaCount, 1) and maxReplicaCount. Its own behaviour smooths that: by default no
 *   stabilization on the way up (rate-limited by its scale-up policies) and a 300 s scale-down
 *   stabilization window (it takes the highest recommendation of the last 5 minutes).
 *
 * Locally there is no HPA: while active, the replica count follows ceil(lag / target) at once, both ways
 * (a worker asked to go drains its running jobs, so a quick scale-down loses nothing). The one smoothing
 * kept is the one a developer sees and configures: once inactive, the replicas stay as they are until
 * cooldown has passed, then go to minReplicas, which may be 0.
 */
export interface KedaInput {
  /** Jobs not yet acked: pending + ack-pending on the component's consumer. */
  lag: number;
  currentReplicas: number;
  minReplicas: number;
  maxReplicas: number;
  /** lagThreshold: the lag one replica is meant to carry. */
  queueDepthTarget: number;
  /** activationLagThreshold: active only above this. Default 0. */
  activationLag?: number;
  /** When the trigger was last seen active (ms since the epoch); undefined if never. */
  lastActiveAt: number | undefined;
  now: number;
  /** cooldownPeriod in ms. */
  cooldownMs: number;
}

export interface KedaDecision {
  desired: number;
  active: boolean;
  /** Carry into the next call's `lastActiveAt`. */
  lastActiveAt: number | undefined;
}

export function kedaDesiredReplicas(input: KedaInput): KedaDecision {
  const { lag, currentReplicas, minReplicas, maxReplicas, queueDepthTarget, lastActiveAt, now, cooldownMs } = input;
  const activationLag = input.activationLag ?? 0;
  // With minReplicas 0 the HPA's floor is still 1: only the operator takes the workload to 0.
  const floor = Math.min(Math.max(minReplicas, 1), maxReplicas);
  const clamp = (n: number): number => Math.min(maxReplicas, Math.max(floor, n));
  if (lag > activationLag)
    return { desired: clamp(Math.ceil(lag / queueDepthTarget)), active: true, lastActiveAt: now };
  const coolingDown = lastActiveAt !== undefined && now - lastActiveAt < cooldownMs;
  return { desired: coolingDown ? clamp(currentReplicas) : minReplicas, active: false, lastActiveAt };
}
