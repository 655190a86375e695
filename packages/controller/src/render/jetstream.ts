import {
  busSettingsFromSpec,
  durableConsumerName,
  jobStreamName,
  jobSubject,
  type ComponentBusSettings,
  type ComponentSpec,
} from "@tessera/contract";

/*
 * The JetStream stream and durable consumer of one component, as NATS JetStream API JSON (durations in
 * nanoseconds). These MUST equal what @tessera/bus provisions (packages/bus/src/nats/provisioning.ts:
 * jobStreamSpec and ensureJobConsumer), or the controller and a process-mode bus would keep "fixing" each
 * other's config. The controller package does not depend on @tessera/bus (nor on @nats-io/*), so the values
 * are restated here; test/render/jetstream.test.ts compares them with the bus's own functions.
 */

/** Same as the bus's JOB_MAX_ACK_PENDING. */
export const JOB_MAX_ACK_PENDING = 10_000;

export interface StreamConfig {
  name: string;
  subjects: string[];
  retention: "workqueue";
  storage: "file";
  discard: "old";
  num_replicas: number;
  /** nanoseconds */
  duplicate_window: number;
}

export interface ConsumerConfig {
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

export const nanos = (ms: number): number => ms * 1_000_000;

export function streamConfigFromSettings(s: ComponentBusSettings): StreamConfig {
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

export function consumerConfigFromSettings(s: ComponentBusSettings): ConsumerConfig {
  return {
    durable_name: durableConsumerName(s.name),
    ack_policy: "explicit",
    deliver_policy: "all",
    ack_wait: nanos(s.ackWaitMs),
    max_deliver: s.maxDeliver,
    max_ack_pending: JOB_MAX_ACK_PENDING,
  };
}

/** The stream (WorkQueue, file storage) holding the component's jobs. Defaults come from the contract. */
export function renderStreamConfig(name: string, spec: ComponentSpec): StreamConfig {
  return streamConfigFromSettings(busSettingsFromSpec(name, spec));
}

/** The durable pull consumer the workers bind (and KEDA reads the lag of); the controller pre-creates it. */
export function renderConsumerConfig(name: string, spec: ComponentSpec): ConsumerConfig {
  return consumerConfigFromSettings(busSettingsFromSpec(name, spec));
}
