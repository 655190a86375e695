import type { ComponentBusSettings } from "./component-spec.js";
import { durableConsumerName, jobStreamName, jobSubject } from "./naming.js";

/*
 * One component's JetStream stream and durable consumer, as JetStream API JSON (durations in nanoseconds).
 * Written once here because two parts create them: the bus (process mode, embedded tests) and the
 * controller (Kubernetes), which has no NATS client. Were they to differ, each would keep "fixing" what
 * the other made.
 */

/**
 * Options every Tessera NATS connection sets. `noAsyncTraces`: otherwise the client builds two Errors, stacks
 * captured, for every request (each JetStream publish is one) only to lengthen the stack of a failure that
 * rarely comes; our callers name the operation in their own errors, and those stacks were a large share of a
 * publish's CPU (docs/performance.md).
 */
export const NATS_CLIENT_OPTIONS = { noAsyncTraces: true } as const;

/** Most jobs handed to the component's workers and not yet acknowledged, across all of them. */
export const JOB_MAX_ACK_PENDING = 10_000;

export interface JobStreamConfig {
  name: string;
  subjects: string[];
  retention: "workqueue";
  storage: "file";
  discard: "old";
  num_replicas: number;
  /** nanoseconds */
  duplicate_window: number;
}

export interface JobConsumerConfig {
  durable_name: string;
  ack_policy: "explicit";
  deliver_policy: "all";
  /** nanoseconds */
  ack_wait: number;
  max_deliver: number;
  max_ack_pending: number;
  /** Not set: the stream holds one component's jobs only, so the consumer reads all of it. */
  filter_subject?: string;
}

const nanos = (ms: number): number => ms * 1_000_000;

/** The WorkQueue file stream holding the component's jobs, on its own subject and any legacy ones. */
export function jobStreamConfig(s: ComponentBusSettings): JobStreamConfig {
  return {
    name: jobStreamName(s.name),
    subjects: [...new Set([jobSubject(s.name), ...(s.jobSubjects ?? [])])],
    retention: "workqueue",
    storage: "file",
    discard: "old",
    num_replicas: 1,
    duplicate_window: nanos(s.duplicateWindowMs),
  };
}

/** The durable pull consumer the component's workers share (and KEDA reads the lag of). */
export function jobConsumerConfig(s: ComponentBusSettings): JobConsumerConfig {
  return {
    durable_name: durableConsumerName(s.name),
    ack_policy: "explicit",
    deliver_policy: "all",
    ack_wait: nanos(s.ackWaitMs),
    max_deliver: s.maxDeliver,
    max_ack_pending: JOB_MAX_ACK_PENDING,
  };
}
