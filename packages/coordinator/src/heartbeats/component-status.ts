import type { Bus } from "@tessera/bus";
import { DEFAULT_MATURITY, canaryInstancePrefix, revisionOfInstance } from "@tessera/contract";
import { ACTIVITY_BUCKETS, ACTIVITY_BUCKET_MS, type ActivityCounter } from "../activity/activity-counter.js";
import type { JobStorage } from "../store/job-storage.js";
import type { ComponentRegistration, ComponentStatus, JobState, KeyLimits } from "../types.js";
import { componentSummary, type InstanceRegistry } from "./instance-registry.js";

/** A status page must answer even when the bus does not: the queue depth is then unknown (null). */
const QUEUE_DEPTH_TIMEOUT_MS = 2_000;

/** One component's status as the admin API shows it: instances from heartbeats, the bus's queue, the store's counts. */
export async function componentStatus(
  reg: ComponentRegistration,
  counts: Record<JobState, number>,
  from: {
    registry: InstanceRegistry;
    bus: Bus;
    limits: KeyLimits | undefined;
    activity: ActivityCounter;
    store?: Pick<JobStorage, "outcomesByRevision">;
  },
): Promise<ComponentStatus> {
  const now = Date.now();
  const instances = from.registry.instances(reg.name, now);
  const healthy = instances.filter((i) => !i.stale).length;
  const queueDepth = await withTimeout(from.bus.queueDepth(reg.name), QUEUE_DEPTH_TIMEOUT_MS).catch(() => null);
  // Only while a canary runs (one of its instances is listed): the query is not paid for otherwise.
  const canary = instances.some((i) => revisionOfInstance(reg.name, i.instanceId) === "canary");
  const windowMs = ACTIVITY_BUCKET_MS * ACTIVITY_BUCKETS;
  const revisions =
    canary && from.store !== undefined
      ? {
          windowMs,
          ...(await from.store.outcomesByRevision(reg.name, canaryInstancePrefix(reg.name), new Date(now - windowMs))),
        }
      : undefined;
  return {
    name: reg.name,
    ...componentSummary(healthy),
    healthyInstances: healthy,
    instances,
    queueDepth,
    jobs: counts,
    limits: from.limits ?? null,
    maturity: reg.spec.maturity ?? DEFAULT_MATURITY,
    activity: from.activity.series(reg.name, now),
    ...(revisions !== undefined ? { revisions } : {}),
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
