import { RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { gatewayStreamName, gatewaySubjectFilter } from "@tessera/contract";

const DAY_MS = 24 * 60 * 60 * 1000;

export interface GatewayStreamOptions {
  /** How long an inbound Message is replayable for consumers that fall behind. Default 7 days. */
  inboundMaxAgeMs?: number;
  /**
   * The inbound duplicate window: a platform's retry inside it is stored once. Default 24 h, longer than the
   * retry schedules of Slack (about an hour) and Standard Webhooks senders (about a day, Svix).
   */
  duplicateWindowMs?: number;
  /** How long delivery records and dead letters are kept. Default 14 days. */
  deliveriesMaxAgeMs?: number;
  /** Replicas of each stream (3 on a clustered NATS). Default 1. */
  replicas?: number;
}

export const GATEWAY_STREAM_DEFAULTS = {
  inboundMaxAgeMs: 7 * DAY_MS,
  duplicateWindowMs: DAY_MS,
  deliveriesMaxAgeMs: 14 * DAY_MS,
  replicas: 1,
} as const;

type Spec = Partial<StreamConfig> & { name: string; subjects: string[] };

/** The gateway streams as JetStream configs. */
export function gatewayStreamSpecs(options: GatewayStreamOptions = {}): Spec[] {
  const o = { ...GATEWAY_STREAM_DEFAULTS, ...options };
  return [
    {
      name: gatewayStreamName("inbound"),
      subjects: [gatewaySubjectFilter("in")],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: o.replicas,
      max_age: nanos(o.inboundMaxAgeMs),
      duplicate_window: nanos(Math.min(o.duplicateWindowMs, o.inboundMaxAgeMs)),
    },
    {
      // The attachment enricher's output: the same Messages, attachments stored; read like the inbound stream.
      name: gatewayStreamName("enriched"),
      subjects: [gatewaySubjectFilter("enriched")],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: o.replicas,
      max_age: nanos(o.inboundMaxAgeMs),
      duplicate_window: nanos(Math.min(o.duplicateWindowMs, o.inboundMaxAgeMs)),
    },
    {
      name: gatewayStreamName("outbound"),
      subjects: [gatewaySubjectFilter("out")],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: o.replicas,
      duplicate_window: nanos(o.duplicateWindowMs),
    },
    {
      name: gatewayStreamName("deliveries"),
      subjects: [gatewaySubjectFilter("delivery"), gatewaySubjectFilter("dlq")],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: o.replicas,
      max_age: nanos(o.deliveriesMaxAgeMs),
      duplicate_window: nanos(Math.min(2 * 60 * 1000, o.deliveriesMaxAgeMs)),
    },
  ];
}

/** Creates the gateway's streams, or brings their subjects, age and window to the config. */
export async function ensureGatewayStreams(jsm: JetStreamManager, options: GatewayStreamOptions = {}): Promise<void> {
  for (const spec of gatewayStreamSpecs(options)) {
    const current = await jsm.streams.info(spec.name).then(
      (info) => info.config,
      () => undefined,
    );
    if (current === undefined) {
      await jsm.streams.add(spec).catch(async (err: unknown) => {
        // Another gateway replica created it first.
        if ((await jsm.streams.info(spec.name).catch(() => undefined)) === undefined) throw err;
      });
    } else {
      await jsm.streams.update(spec.name, { ...current, ...spec });
    }
  }
}
