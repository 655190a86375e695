import type { ComponentBusSettings, ContentRef, Heartbeat, Job, Result } from "@tessera/contract";
import type { TraceCarrier } from "./tracing/trace-context.js";

/**
 * The one bus interface. Two backends implement it (`jetstream`, `inprocess`) and one conformance suite
 * (test/conformance/) holds both to the same semantics. Anything the two do differently is either a bug
 * or written down in docs/contract.md under "Documented differences".
 *
 * Delivery is at-least-once. Jobs are deduplicated on publish by their job_id within the component's
 * duplicate window; a redelivered job whose Result already exists is acked by the worker without being
 * run again (`getResult`).
 */
export interface PublishJobOptions {
  dedupKey?: string;
  /**
   * The job's bytes exactly as `encodeJob(job)` returns them, from a caller that already validated and
   * encoded it (the coordinator encodes an envelope once, at submit): published as they are.
   */
  encoded?: Uint8Array;
  /**
   * The job may have been published, and run, before: the coordinator republishing from its outbox (after
   * a restart, a failed record). Its deliveries say so (`JobDelivery.mayRepeat`), so the worker looks for
   * the job's Result before running it, as it does for a redelivery.
   */
  mayRepeat?: boolean;
}

/** How a bus is deployed, as the guard rails read it (`DeploymentFacts` in @tessera/contract). */
export interface BusTopology {
  /** The NATS server belongs to a cluster (its INFO names one); false in process. */
  clustered: boolean;
  /** Replicas of the streams this bus creates. */
  streamReplicas: number;
}

export interface Bus {
  readonly kind: "jetstream" | "inprocess";

  /** How this bus is deployed (for the environment's guard rails). */
  topology(): BusTopology;

  /**
   * Creates (or updates to match) the component's job stream and its durable consumer. Idempotent.
   * The coordinator, `tessera dev` and the Kubernetes controller call this; a worker in Kubernetes mode
   * never does (it only binds, see `consumeJobs({ bindOnly })`).
   */
  ensureComponent(settings: ComponentBusSettings): Promise<void>;

  /** Removes the component's stream and consumer (and with them its pending jobs). */
  removeComponent(component: string): Promise<void>;

  /**
   * Publishes a job to `jobSubject(job.component)`. The dedup key is `job.job_id` unless `dedupKey` is
   * given (redrive uses a fresh key so the duplicate window does not swallow it). Validates the job first,
   * unless the caller passes it `encoded`. Fails if the component's stream does not exist. The active trace
   * context (the caller's span) travels with it in the message headers (`JobDelivery.traceHeaders`).
   */
  publishJob(job: Job, opts?: PublishJobOptions): Promise<PublishAck>;

  /**
   * Publishes raw bytes as if they were a job, skipping validation. For tests of malformed envelopes and
   * for tooling that replays captured messages; never used on the normal path.
   */
  publishRawJob(component: string, data: Uint8Array, opts?: { dedupKey?: string }): Promise<PublishAck>;

  /**
   * Consumes the component's jobs through its durable consumer. The handler is called once per delivery
   * and must settle it with exactly one of ack / nak / term (later calls are ignored). The backend keeps
   * at most `maxInFlight` deliveries unsettled in this subscription; each delivery's ack-wait clock runs
   * from the moment it is handed to the handler. A handler that throws is treated as nak() with no delay.
   * This only binds: a missing stream or consumer is always BusNotProvisionedError (`ensureComponent`
   * creates them; `bindOnly` documents the Kubernetes intent). After its ack wait, a delivery's ack() and
   * term() still remove the job; its nak() and working() have no defined effect.
   */
  consumeJobs(
    component: string,
    opts: ConsumeJobsOptions,
    handler: (delivery: JobDelivery) => void | Promise<void>,
  ): Promise<Subscription>;

  /** Number of jobs not yet acked or termed: pending + ack-pending, the number KEDA scales on. */
  queueDepth(component: string): Promise<QueueDepth>;

  /**
   * Publishes a Result on `resultSubject(component, job_id)` (validated first). Publishing the same
   * Result again (same job, status and finished_at: a retried publish) stores nothing new; a Result of
   * another run of the job (a redrive, a double execution) is stored, and the coordinator decides.
   * Resolves only once the bus has stored it durably. The active trace context travels with it in the
   * message headers (`ResultEvent.traceHeaders`).
   */
  publishResult(result: Result): Promise<void>;

  /** The latest stored Result for a job, if any. This is the "already finished" guard for redeliveries. */
  getResult(component: string, jobId: string): Promise<Result | undefined>;

  /**
   * Consumes Results of all components through the coordinator's durable consumer: Results published
   * while nobody listens are delivered when someone does. The handler's returned promise acks the
   * Result; a throw redelivers it. Messages that are not valid Results are passed as `invalid` and acked.
   */
  consumeResults(handler: (event: ResultEvent) => void | Promise<void>): Promise<Subscription>;

  /**
   * Makes this coordinator known to the others on the bus (it answers their probes until `leave`), and
   * returns those that answered a probe of its own: how a coordinator whose store cannot be shared finds out
   * that it would run beside another. The in-process bus knows its coordinators without asking.
   */
  joinCoordinators(self: CoordinatorPresence, opts?: { waitMs?: number }): Promise<CoordinatorMembership>;

  /** Heartbeats are fire-and-forget (core NATS): a missed beat is information, not a loss. */
  publishHeartbeat(heartbeat: Heartbeat): Promise<void>;
  subscribeHeartbeats(handler: (event: HeartbeatEvent) => void): Promise<Subscription>;

  /**
   * Durable observation of max-delivery exhaustion: every job that used up its deliveries is reported
   * exactly once per observation (a throw from the handler redelivers the event), including those that
   * happened while nobody was observing. The exhausted job stays in its stream until `deadLetter` (or
   * `removeJob`) removes it.
   */
  observeExhausted(handler: (event: ExhaustedDelivery) => void | Promise<void>): Promise<Subscription>;

  /**
   * Moves an exhausted job to the DLQ: publishes it to `dlqSubject(component)`, then deletes it from the
   * component's stream. Idempotent: a second call for the same event neither duplicates nor fails.
   */
  deadLetter(event: ExhaustedDelivery, reason: { reasonCode: string; reasonDetail?: string }): Promise<void>;

  /**
   * Records a delivery the worker could not even attribute to a job (no job id in the envelope nor its
   * dedup key) on the component's DLQ subject, so it is not lost when the delivery is termed.
   */
  publishDeadLetter(letter: DeadLetter): Promise<void>;

  /** Reads the component's dead letters (oldest first). */
  listDeadLetters(component: string): Promise<DeadLetter[]>;

  /**
   * Everything the bus holds about the jobs of `components`: the latest Result of each job in the Results
   * stream, the jobs still stored in each job stream, and the dead letters. What a restored job store is
   * reconciled against (a restore loses what happened after its backup; the bus still knows some of it).
   */
  inventory(components: readonly string[]): Promise<BusInventory>;

  /** Removes one message from the component's job stream by sequence; false if it was not there. */
  removeJob(component: string, streamSeq: number): Promise<boolean>;

  readonly payloads: PayloadStore;

  /** Connected and usable. */
  isConnected(): boolean;

  /**
   * When this bus's current connection was made (ms since the epoch; for the in-process bus, when it was
   * created). A job stored before then may be one a restarted server forgot was acked: the worker looks
   * for its Result before running it.
   */
  connectedSince(): number;

  /**
   * Stops all subscriptions this bus created and closes the connection; later calls reject with
   * BusClosedError. Settles called after close() are lost: those jobs come back after their ack wait.
   */
  close(): Promise<void>;
}

export interface CoordinatorPresence {
  id: string;
  /** Whether its store can be shared with other coordinators (Postgres), or is its alone (memory, PGlite). */
  shareable: boolean;
  /** What it stores jobs in, for the message of a refusal. */
  store: string;
}

export interface CoordinatorMembership {
  /** The coordinators that were already on the bus. */
  readonly peers: CoordinatorPresence[];
  /** Stops answering probes. */
  leave(): Promise<void>;
}

export interface PublishAck {
  /** Position in the component's stream. For a duplicate, the sequence of the original. */
  seq: number;
  /** True when the dedup window already held this key and nothing new was stored. */
  duplicate: boolean;
}

export interface ConsumeJobsOptions {
  maxInFlight: number;
  bindOnly?: boolean;
}

export interface JobDelivery {
  readonly component: string;
  /** The envelope bytes exactly as published; validation is the worker's job. */
  readonly data: Uint8Array;
  /** The dedup key it was published with (normally the job_id), if any. */
  readonly dedupKey: string | undefined;
  /**
   * 1 for the first delivery. Not proof of a first run: a JetStream server does not count a delivery
   * whose pull request's client had gone away (a crashed worker), so a redelivery may show 1 again.
   */
  readonly deliveryCount: number;
  readonly streamSeq: number;
  /** When the job was stored (ms since the epoch). With `deliveryCount` it tells a possible redelivery. */
  readonly publishedAt: number;
  /** The consumer's ack wait: a handler that runs longer must call working() more often than this. */
  readonly ackWaitMs: number;
  /** Published with `mayRepeat`: the job may have run before, whatever the delivery count says. */
  readonly mayRepeat?: boolean;
  /** The trace context its publish carried (W3C `traceparent`, …); undefined when untraced. */
  readonly traceHeaders?: TraceCarrier;
  ack(): void;
  /** Redeliver after `delayMs` (0 or undefined: as soon as possible). Counts as a delivery. */
  nak(delayMs?: number): void;
  /** Never redeliver; the message is removed from the work queue. */
  term(): void;
  /** Resets the ack-wait clock: the job is alive. */
  working(): void;
}

export interface BusInventory {
  /** The latest Result of each job, within the Results stream's retention. */
  results: Result[];
  /** Jobs still stored in their component's stream: not yet acked, running, or exhausted and not yet moved. */
  stored: StoredJob[];
  deadLetters: DeadLetter[];
}

export interface StoredJob {
  component: string;
  /** From the envelope, else the dedup key it was published with; undefined for bytes that name no job. */
  jobId: string | undefined;
  streamSeq: number;
}

export interface QueueDepth {
  pending: number;
  ackPending: number;
  /** pending + ackPending */
  total: number;
}

export type ResultEvent =
  | { kind: "result"; result: Result; subject: string; traceHeaders?: TraceCarrier }
  | { kind: "invalid"; subject: string; data: Uint8Array; error: Error };

export type HeartbeatEvent =
  { kind: "heartbeat"; heartbeat: Heartbeat } | { kind: "invalid"; subject: string; error: Error };

export interface ExhaustedDelivery {
  component: string;
  streamSeq: number;
  deliveries: number;
  /** The job's bytes, read from the stream; undefined if it is no longer there. */
  data: Uint8Array | undefined;
  /** The job's dedup key, when it could be read. */
  dedupKey: string | undefined;
}

export interface DeadLetter {
  component: string;
  /** The job id when known (from the envelope or its dedup key). */
  jobId: string | undefined;
  /** Sequence in the component's job stream it came from, if it came from there. */
  streamSeq: number | undefined;
  deliveries: number;
  reasonCode: string;
  reasonDetail: string;
  /** The original bytes, exactly as delivered. */
  data: Uint8Array;
  deadLetteredAt: string;
}

export interface Subscription {
  /** Stops receiving. For job consumers: stops pulling new jobs; deliveries already handed out stay valid. */
  stop(): Promise<void>;
  /** Resolves when the subscription has stopped (after stop() or when the bus closed). */
  readonly closed: Promise<void>;
}

/**
 * Payloads by reference. Every object belongs to one job: its reference is `<job_id>/<id>` and reads
 * and deletes by any other job are refused (PayloadNotOwnedError). Objects expire after the store's TTL.
 */
export interface PayloadStore {
  put(jobId: string, data: Uint8Array | AsyncIterable<Uint8Array>, opts?: { maxBytes?: number }): Promise<ContentRef>;
  /**
   * Reads an object for `jobId`. Refuses before reading when the ref's declared byte_size exceeds
   * `maxBytes`, and stops reading (PayloadTooLargeError) as soon as more than `maxBytes` arrive.
   */
  get(ref: ContentRef, opts: { jobId: string; maxBytes: number }): Promise<Uint8Array>;
  delete(ref: ContentRef, opts: { jobId: string }): Promise<boolean>;
}
