import {
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import {
  ADVISORY_STREAM,
  COORDINATOR_ADVISORIES_CONSUMER,
  COORDINATOR_RESULTS_CONSUMER,
  DLQ_STREAM,
  DLQ_SUBJECT_ALL,
  MAX_DELIVERIES_ADVISORY_SUBJECTS,
  RESULTS_STREAM,
  RESULTS_SUBJECT_ALL,
  jobConsumerConfig,
  jobStreamConfig,
  jobStreamName,
  type ComponentBusSettings,
} from "@tessera/contract";
import { isConsumerNotFound, isStreamNotFound } from "./nats-errors.js";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Dedup window of Results (per job id and status). */
export const RESULTS_DUPLICATE_WINDOW_MS = 2 * 60 * 1000;
/** Dedup window of the DLQ: long, so a repeated `deadLetter` for the same event stays a no-op for a day. */
export const DLQ_DUPLICATE_WINDOW_MS = DAY_MS;
export const ADVISORY_MAX_AGE_MS = 7 * DAY_MS;
/** Ack wait of the coordinator's own durable consumers (Results, advisories). */
export const COORDINATOR_ACK_WAIT_MS = 30_000;

type StreamSpec = Partial<StreamConfig> & { name: string; subjects: string[] };

const sameSet = (a: readonly string[] | undefined, b: readonly string[]): boolean => {
  const x = [...(a ?? [])].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
};

/** Creates the stream, or updates the fields that differ. Retention and storage cannot change in place. */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  let current: StreamConfig;
  try {
    current = (await jsm.streams.info(spec.name)).config;
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
    try {
      await jsm.streams.add(spec);
      return;
    } catch (addErr) {
      // Lost a creation race with another provisioner: fall through to the comparison.
      current = (await jsm.streams.info(spec.name).catch(() => Promise.reject(addErr))).config;
    }
  }
  const differs =
    !sameSet(current.subjects, spec.subjects) ||
    (spec.duplicate_window !== undefined && current.duplicate_window !== spec.duplicate_window) ||
    (spec.max_age !== undefined && current.max_age !== spec.max_age);
  if (differs) await jsm.streams.update(spec.name, { ...current, ...spec });
}

/** The component's job stream, as the controller renders it too (the config is the contract's). */
export function jobStreamSpec(s: ComponentBusSettings, replicas = 1): StreamSpec {
  // The contract spells the enums as the JetStream API does; the client's enum types are those strings.
  return { ...(jobStreamConfig(s) as StreamSpec), num_replicas: replicas };
}

export async function ensureJobConsumer(jsm: JetStreamManager, s: ComponentBusSettings): Promise<void> {
  const stream = jobStreamName(s.name);
  const { durable_name: durable, ...config } = jobConsumerConfig(s);
  const want = { max_deliver: config.max_deliver, ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending };
  let current: ConsumerConfig | undefined;
  try {
    current = (await jsm.consumers.info(stream, durable)).config;
  } catch (err) {
    if (!isConsumerNotFound(err)) throw err;
  }
  if (current === undefined) {
    try {
      await jsm.consumers.add(stream, jobConsumerConfig(s) as Partial<ConsumerConfig>);
      return;
    } catch (err) {
      current = (await jsm.consumers.info(stream, durable).catch(() => Promise.reject(err))).config;
    }
  }
  if (
    current.max_deliver !== want.max_deliver ||
    current.ack_wait !== want.ack_wait ||
    current.max_ack_pending !== want.max_ack_pending
  ) {
    await jsm.consumers.update(stream, durable, want);
  }
}

export function sharedStreamSpecs(opts: { resultsMaxAgeMs: number; replicas: number }): StreamSpec[] {
  return [
    {
      name: RESULTS_STREAM,
      subjects: [RESULTS_SUBJECT_ALL],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: opts.replicas,
      max_age: nanos(opts.resultsMaxAgeMs),
      duplicate_window: nanos(Math.min(RESULTS_DUPLICATE_WINDOW_MS, opts.resultsMaxAgeMs)),
    },
    {
      name: DLQ_STREAM,
      subjects: [DLQ_SUBJECT_ALL],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: opts.replicas,
      duplicate_window: nanos(DLQ_DUPLICATE_WINDOW_MS),
    },
    {
      name: ADVISORY_STREAM,
      subjects: [MAX_DELIVERIES_ADVISORY_SUBJECTS],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: opts.replicas,
      max_age: nanos(ADVISORY_MAX_AGE_MS),
    },
  ];
}

/** The coordinator's durable consumers (Results, advisories): created when missing, never changed. */
export async function ensureCoordinatorConsumer(jsm: JetStreamManager, stream: string, durable: string): Promise<void> {
  try {
    await jsm.consumers.info(stream, durable);
    return;
  } catch (err) {
    if (!isConsumerNotFound(err)) throw err;
  }
  try {
    await jsm.consumers.add(stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(COORDINATOR_ACK_WAIT_MS),
      max_ack_pending: 1000,
    });
  } catch (err) {
    await jsm.consumers.info(stream, durable).catch(() => Promise.reject(err));
  }
}

export const COORDINATOR_CONSUMERS = [
  { stream: RESULTS_STREAM, durable: COORDINATOR_RESULTS_CONSUMER },
  { stream: ADVISORY_STREAM, durable: COORDINATOR_ADVISORIES_CONSUMER },
] as const;
