import { resultDedupKey } from "../result-dedup-key.js";
import {
  jetstream,
  jetstreamManager,
  type Consumer,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { Objm, StorageType, type ObjectStore } from "@nats-io/obj";
import { connect, millis, nanos, type NatsConnection } from "@nats-io/transport-node";
import {
  ADVISORY_STREAM,
  COORDINATOR_ADVISORIES_CONSUMER,
  COORDINATOR_RESULTS_CONSUMER,
  PAYLOAD_BUCKET,
  RESULTS_STREAM,
  componentOfJobStream,
  decodeResult,
  durableConsumerName,
  encodeHeartbeat,
  encodeJob,
  encodeResult,
  heartbeatSubject,
  jobStreamName,
  jobSubject,
  NATS_CLIENT_OPTIONS,
  resultSubject,
  type ComponentBusSettings,
  type Heartbeat,
  type Job,
  type Result,
} from "@tessera/contract";
import type {
  Bus,
  BusInventory,
  ConsumeJobsOptions,
  DeadLetter,
  ExhaustedDelivery,
  HeartbeatEvent,
  JobDelivery,
  PublishAck,
  PublishJobOptions,
  QueueDepth,
  ResultEvent,
  Subscription,
  CoordinatorMembership,
  CoordinatorPresence,
  BusTopology,
} from "../bus.js";
import { BusClosedError, BusNotProvisionedError } from "../errors.js";
import { letterFromEvent, publishLetter, readDeadLetters } from "./dead-letters.js";
import { MAY_REPEAT_HEADER, startAckingLoop, startJobLoop, traceHeadersOf } from "./job-consumer.js";
import { isMessageNotFound, isNoResponders, isResourceNotFound, isStreamNotFound } from "./nats-errors.js";
import { NatsPayloadStore } from "./payload-store.js";
import { readResults, readStoredJobs } from "./stream-scan.js";
import {
  COORDINATOR_CONSUMERS,
  ensureCoordinatorConsumer,
  ensureJobConsumer,
  ensureStream,
  jobStreamSpec,
  sharedStreamSpecs,
} from "./provisioning.js";
import { PipelinedPublisher } from "./pipelined-publisher.js";
import { repairWorkQueueConsumer, type RepairOutcome } from "./consumer-repair.js";
import type { PullLoop } from "./pull-loop.js";
import { parseMaxDeliveriesAdvisory } from "./advisories.js";
import { joinCoordinators, subscribeHeartbeats, type CoreSubscriptions } from "./core-subscriptions.js";
import { injectTrace, type TraceCarrier } from "../tracing/trace-context.js";

export interface JetStreamBusOptions {
  servers: string | string[];
  /** Connection name shown by the server's monitoring. */
  name?: string;
  /**
   * Whether this bus may create streams, consumers and the payload bucket (default true). With false
   * it creates nothing and a missing resource is a BusNotProvisionedError (a worker in Kubernetes mode).
   */
  provision?: boolean;
  /** TTL of payload objects (the bucket's max_age). Default 24 h. */
  payloadTtlMs?: number;
  /** How long Results are kept (the Results stream's max_age). Default 7 days. */
  resultsMaxAgeMs?: number;
  /**
   * Replicas of every stream this bus creates (jobs, Results, dead letters, advisories). Default 1; on a
   * clustered NATS use 3, so that losing one server loses no job (production refuses fewer: environment.ts).
   */
  streamReplicas?: number;
  /**
   * Told of every repair of a job consumer after a server restart (see consumer-repair.ts), and of a check
   * that failed on every retry (`error` set), e.g. to log it.
   */
  onConsumerRepair?: (event: { component: string; error?: unknown } & RepairOutcome) => void;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * Messages the coordinator's consumers (Results, advisories) hold at once. Large, because the coordinator
 * writes concurrent Results to its store together: the more it holds, the fewer statements it runs. The consumers' max_ack_pending is 1,000 too.
 */
const COORDINATOR_IN_FLIGHT = 1_000;
const SHARED = "(shared)";
/** The second check of the job consumers after a reconnect (see watchStatus). */
const REPAIR_AGAIN_MS = 15_000;
const MAY_REPEAT_HEADERS: Readonly<Record<string, string>> = { [MAY_REPEAT_HEADER]: "1" };

function withMayRepeat(trace: TraceCarrier, mayRepeat: boolean): TraceCarrier {
  return mayRepeat ? { ...trace, ...MAY_REPEAT_HEADERS } : trace;
}

export async function connectJetStreamBus(opts: JetStreamBusOptions): Promise<Bus> {
  const replicas = opts.streamReplicas;
  // JetStream allows 1 to 5 replicas of a stream.
  if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 1 || replicas > 5))
    throw new RangeError(`streamReplicas: expected an integer from 1 to 5, got ${replicas}`);
  const nc = await connect({
    ...NATS_CLIENT_OPTIONS,
    servers: opts.servers,
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 10_000,
  });
  try {
    const jsm = await jetstreamManager(nc);
    return new JetStreamBus(nc, jsm, opts);
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
}

/** The consumer's ack wait in ms (from the info the client fetched when binding). */
async function ackWaitOf(consumer: Consumer): Promise<number> {
  const info = await consumer.info(true);
  return millis(info.config.ack_wait ?? nanos(30_000));
}

class JetStreamBus implements Bus {
  readonly kind = "jetstream" as const;
  readonly payloads: NatsPayloadStore;
  private readonly js: JetStreamClient;
  private readonly publisher: PipelinedPublisher;
  private readonly provision: boolean;
  private readonly payloadTtlMs: number;
  private readonly resultsMaxAgeMs: number;
  private readonly streamReplicas: number;
  private closing: Promise<void> | undefined;
  private connected = true;
  private connectedAt = Date.now();
  private sharedReady: Promise<void> | undefined;
  private objectStore: Promise<ObjectStore> | undefined;
  private readonly loops = new Set<PullLoop>();
  /** The job consumers bound by this bus (by component), checked for a server crash's damage after a reconnect. */
  private readonly jobConsumers = new Map<PullLoop, { component: string; mayRecreate: boolean }>();
  private readonly repairs = new Map<string, Promise<void>>();
  private readonly onConsumerRepair: JetStreamBusOptions["onConsumerRepair"];
  private readonly coreSubs: CoreSubscriptions = new Set();

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    opts: JetStreamBusOptions,
  ) {
    this.js = jetstream(nc);
    this.publisher = new PipelinedPublisher(nc);
    this.provision = opts.provision ?? true;
    this.payloadTtlMs = opts.payloadTtlMs ?? DAY_MS;
    this.resultsMaxAgeMs = opts.resultsMaxAgeMs ?? 7 * DAY_MS;
    this.streamReplicas = opts.streamReplicas ?? 1;
    this.onConsumerRepair = opts.onConsumerRepair;
    this.payloads = new NatsPayloadStore(
      () => this.payloadBucket(),
      () => this.guard(),
    );
    void this.watchStatus();
  }

  topology(): BusTopology {
    // A clustered server names its cluster in the INFO it sends on connect.
    const cluster = this.nc.info?.cluster;
    return { clustered: typeof cluster === "string" && cluster !== "", streamReplicas: this.streamReplicas };
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === "disconnect" || s.type === "staleConnection") this.connected = false;
      else if (s.type === "reconnect") {
        this.connected = true;
        this.connectedAt = Date.now();
        // The server may have restarted and forgotten our pull requests: issue fresh ones.
        for (const loop of this.loops) loop.kick();
        // A restart after a SIGKILL may also have left a job consumer out of step with its stream.
        const components = new Map<string, boolean>();
        for (const { component, mayRecreate } of this.jobConsumers.values())
          components.set(component, mayRecreate || components.get(component) === true);
        for (const [component, mayRecreate] of components) {
          void this.repairJobConsumer(component, mayRecreate);
          // Once more after the redeliveries of the restart have settled: cheap, and the check is by
          // counts and spans that jobs in flight during the restart can blur.
          setTimeout(() => void this.repairJobConsumer(component, mayRecreate), REPAIR_AGAIN_MS).unref();
        }
      }
    }
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  connectedSince(): number {
    return this.connectedAt;
  }

  isConnected(): boolean {
    return this.closing === undefined && this.connected && !this.nc.isClosed();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.loops].map((l) => l.stop()));
      await Promise.allSettled([...this.coreSubs].map((s) => s.stop()));
      if (this.nc.isClosed()) return this.publisher.close();
      // drain() flushes pending acks; do not hang forever on a server that is gone.
      const drained = this.nc.drain().catch(() => undefined);
      const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5_000).unref());
      if ((await Promise.race([drained, timeout])) === "timeout") await this.nc.close().catch(() => undefined);
      this.publisher.close();
    })();
    return this.closing;
  }

  private guard(): void {
    if (this.closing !== undefined || this.nc.isClosed()) throw new BusClosedError();
  }

  // ---- provisioning ----------------------------------------------------------------------------

  /** Results, DLQ and advisory streams plus the coordinator's consumers; once per bus when provisioning. */
  private ensureShared(): Promise<void> {
    if (!this.provision) return Promise.resolve();
    this.sharedReady ??= (async () => {
      for (const spec of sharedStreamSpecs({ resultsMaxAgeMs: this.resultsMaxAgeMs, replicas: this.streamReplicas }))
        await ensureStream(this.jsm, spec);
      for (const c of COORDINATOR_CONSUMERS) await ensureCoordinatorConsumer(this.jsm, c.stream, c.durable);
    })().catch((err: unknown) => {
      this.sharedReady = undefined;
      throw err;
    });
    return this.sharedReady;
  }

  private payloadBucket(): Promise<ObjectStore> {
    this.objectStore ??= (async () => {
      const objm = new Objm(this.js);
      if (this.provision)
        return objm.create(PAYLOAD_BUCKET, { ttl: nanos(this.payloadTtlMs), storage: StorageType.File });
      try {
        return await objm.open(PAYLOAD_BUCKET);
      } catch (err) {
        if (isResourceNotFound(err) || /not found/i.test(String(err)))
          throw new BusNotProvisionedError(SHARED, `payload bucket ${PAYLOAD_BUCKET}`);
        throw err;
      }
    })().catch((err: unknown) => {
      this.objectStore = undefined;
      throw err;
    });
    return this.objectStore;
  }

  async ensureComponent(settings: ComponentBusSettings): Promise<void> {
    this.guard();
    await ensureStream(this.jsm, jobStreamSpec(settings, this.streamReplicas));
    await ensureJobConsumer(this.jsm, settings);
    await this.ensureShared();
    await this.payloadBucket();
  }

  async removeComponent(component: string): Promise<void> {
    this.guard();
    try {
      await this.jsm.streams.delete(jobStreamName(component));
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
    }
  }

  // ---- jobs ------------------------------------------------------------------------------------

  async publishJob(job: Job, opts?: PublishJobOptions): Promise<PublishAck> {
    this.guard();
    const bytes = opts?.encoded ?? encodeJob(job);
    const trace = injectTrace();
    const mayRepeat = opts?.mayRepeat === true;
    const extra = trace === undefined ? (mayRepeat ? MAY_REPEAT_HEADERS : undefined) : withMayRepeat(trace, mayRepeat);
    return this.publishJobBytes(job.component, bytes, opts?.dedupKey ?? job.job_id, extra);
  }

  async publishRawJob(component: string, data: Uint8Array, opts?: { dedupKey?: string }): Promise<PublishAck> {
    this.guard();
    return this.publishJobBytes(component, data, opts?.dedupKey, undefined);
  }

  private async publishJobBytes(
    component: string,
    data: Uint8Array,
    msgID: string | undefined,
    extra: Readonly<Record<string, string>> | undefined,
  ): Promise<PublishAck> {
    try {
      const ack = await this.publisher.publish(jobSubject(component), data, msgID, extra);
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      if (isNoResponders(err)) throw new BusNotProvisionedError(component, `job stream ${jobStreamName(component)}`);
      throw err;
    }
  }

  private async getConsumer(component: string, stream: string, durable: string): Promise<Consumer> {
    try {
      return await this.js.consumers.get(stream, durable);
    } catch (err) {
      if (isResourceNotFound(err))
        throw new BusNotProvisionedError(component, `durable consumer ${durable} on stream ${stream}`);
      throw err;
    }
  }

  async consumeJobs(
    component: string,
    opts: ConsumeJobsOptions,
    handler: (delivery: JobDelivery) => void | Promise<void>,
  ): Promise<Subscription> {
    this.guard();
    if (!Number.isInteger(opts.maxInFlight) || opts.maxInFlight < 1)
      throw new RangeError(`maxInFlight: expected an integer >= 1, got ${opts.maxInFlight}`);
    // Never created here (with or without bindOnly): ensureComponent owns the consumer's configuration.
    const consumer = await this.getConsumer(component, jobStreamName(component), durableConsumerName(component));
    const loop = startJobLoop({
      component,
      consumer,
      ackWaitMs: await ackWaitOf(consumer),
      maxInFlight: opts.maxInFlight,
      handler,
      send: (fn) => this.publisher.later(fn),
    });
    const sub = this.track(loop);
    const mayRecreate = this.provision && opts.bindOnly !== true;
    this.jobConsumers.set(loop, { component, mayRecreate });
    void loop.closed.then(() => this.jobConsumers.delete(loop));
    // The server may have been killed while no process of this component was connected.
    void this.repairJobConsumer(component, mayRecreate);
    return sub;
  }

  /**
   * Repairs what a SIGKILLed nats-server 2.9 can leave in a job consumer (stale pending entries that keep
   * num_ack_pending above zero for good; a stream sequence that went backwards, so new jobs are never
   * delivered: see consumer-repair.ts). One repair per component at a time: two overlapping recreates
   * could delete the consumer the other had just made. Right after a reconnect the server's JetStream may
   * still be recovering, so a failed check is retried with backoff, starting short: the sooner it runs, the
   * less a sequence that went backwards can be hidden by new publishes. A repair that still fails is reported.
   */
  private repairJobConsumer(component: string, mayRecreate: boolean): Promise<void> {
    // Asked again while one runs (a reconnect during the bind's check): run once more after it, on fresh state.
    const running = this.repairs.get(component);
    if (running !== undefined) return running.then(() => this.repairJobConsumer(component, mayRecreate));
    const repair = this.runRepair(component, mayRecreate).finally(() => this.repairs.delete(component));
    this.repairs.set(component, repair);
    return repair;
  }

  private async runRepair(component: string, mayRecreate: boolean): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 8; attempt++) {
      if (this.closing !== undefined || this.nc.isClosed()) return;
      try {
        const outcome = await repairWorkQueueConsumer(
          this.nc,
          this.jsm,
          jobStreamName(component),
          durableConsumerName(component),
          { mayRecreate },
        );
        if (outcome.acksForRemoved > 0 || outcome.recreated) this.onConsumerRepair?.({ component, ...outcome });
        return;
      } catch (err) {
        lastError = err;
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt).unref());
      }
    }
    if (this.closing === undefined)
      this.onConsumerRepair?.({ component, acksForRemoved: 0, recreated: false, error: lastError });
  }

  /** One of the coordinator's durable consumers on a shared stream: the handler's promise acks, a throw naks. */
  private async coordinatorLoop(
    stream: string,
    durable: string,
    handle: (m: JsMsg) => Promise<void>,
  ): Promise<Subscription> {
    this.guard();
    await this.ensureShared();
    const consumer = await this.getConsumer(SHARED, stream, durable);
    return this.track(
      startAckingLoop({ consumer, maxInFlight: COORDINATOR_IN_FLIGHT, ackWaitMs: await ackWaitOf(consumer), handle }),
    );
  }

  private track(loop: PullLoop): Subscription {
    if (this.closing !== undefined) {
      // close() ran while this subscription was being set up: it must not outlive the bus.
      void loop.stop();
      throw new BusClosedError();
    }
    this.loops.add(loop);
    void loop.closed.then(() => this.loops.delete(loop));
    return loop;
  }

  async queueDepth(component: string): Promise<QueueDepth> {
    this.guard();
    try {
      const info = await this.jsm.consumers.info(jobStreamName(component), durableConsumerName(component));
      return {
        pending: info.num_pending,
        ackPending: info.num_ack_pending,
        total: info.num_pending + info.num_ack_pending,
      };
    } catch (err) {
      if (isResourceNotFound(err))
        throw new BusNotProvisionedError(component, `durable consumer ${durableConsumerName(component)}`);
      throw err;
    }
  }

  async inventory(components: readonly string[]): Promise<BusInventory> {
    this.guard();
    const inventory: BusInventory = { results: [], stored: [], deadLetters: [] };
    // One component at a time: a restore is not in a hurry, and the server keeps serving the workers.
    for (const component of components) {
      inventory.results.push(...(await readResults(this.js, component)));
      inventory.stored.push(...(await readStoredJobs(this.jsm, component)));
      inventory.deadLetters.push(...(await this.listDeadLetters(component)));
    }
    return inventory;
  }

  async removeJob(component: string, streamSeq: number): Promise<boolean> {
    this.guard();
    return this.deleteJobMessage(jobStreamName(component), streamSeq);
  }

  private async deleteJobMessage(stream: string, seq: number): Promise<boolean> {
    try {
      return await this.jsm.streams.deleteMessage(stream, seq);
    } catch (err) {
      if (isMessageNotFound(err) || isStreamNotFound(err)) return false;
      throw err;
    }
  }

  // ---- results ---------------------------------------------------------------------------------

  async publishResult(result: Result): Promise<void> {
    this.guard();
    const bytes = encodeResult(result);
    const trace = injectTrace();
    const publish = (): Promise<unknown> =>
      this.publisher.publish(resultSubject(result.component, result.job_id), bytes, resultDedupKey(result), trace);
    try {
      await publish();
    } catch (err) {
      if (!isNoResponders(err)) throw err;
      if (!this.provision) throw new BusNotProvisionedError(result.component, `results stream ${RESULTS_STREAM}`);
      await this.ensureShared();
      await publish();
    }
  }

  async getResult(component: string, jobId: string): Promise<Result | undefined> {
    this.guard();
    let stored;
    try {
      stored = await this.jsm.streams.getMessage(RESULTS_STREAM, { last_by_subj: resultSubject(component, jobId) });
    } catch (err) {
      if (isStreamNotFound(err) || isMessageNotFound(err)) return undefined;
      throw err;
    }
    if (stored === null) return undefined;
    const decoded = decodeResult(stored.data);
    return decoded.ok ? decoded.value : undefined;
  }

  async consumeResults(handler: (event: ResultEvent) => void | Promise<void>): Promise<Subscription> {
    return this.coordinatorLoop(RESULTS_STREAM, COORDINATOR_RESULTS_CONSUMER, async (m: JsMsg) => {
      const decoded = decodeResult(m.data);
      if (decoded.ok) {
        const traceHeaders = traceHeadersOf(m);
        await handler({
          kind: "result",
          result: decoded.value,
          subject: m.subject,
          ...(traceHeaders !== undefined ? { traceHeaders } : {}),
        });
      } else {
        try {
          await handler({ kind: "invalid", subject: m.subject, data: m.data, error: decoded.error });
        } catch {
          // An invalid Result is acked whatever the handler does: redelivering it cannot fix it.
        }
      }
    });
  }

  // ---- coordinators and heartbeats (core NATS) ------------------------------------------------

  async joinCoordinators(self: CoordinatorPresence, opts: { waitMs?: number } = {}): Promise<CoordinatorMembership> {
    this.guard();
    return joinCoordinators(this.nc, this.coreSubs, self, opts.waitMs);
  }

  async publishHeartbeat(heartbeat: Heartbeat): Promise<void> {
    this.guard();
    this.nc.publish(heartbeatSubject(heartbeat.component), encodeHeartbeat(heartbeat));
  }

  async subscribeHeartbeats(handler: (event: HeartbeatEvent) => void): Promise<Subscription> {
    this.guard();
    return subscribeHeartbeats(this.nc, this.coreSubs, handler);
  }

  // ---- exhaustion and dead letters -------------------------------------------------------------

  async observeExhausted(handler: (event: ExhaustedDelivery) => void | Promise<void>): Promise<Subscription> {
    return this.coordinatorLoop(ADVISORY_STREAM, COORDINATOR_ADVISORIES_CONSUMER, async (m: JsMsg) => {
      const adv = parseMaxDeliveriesAdvisory(m.data);
      const component = adv === undefined ? undefined : componentOfJobStream(adv.stream);
      if (adv === undefined || component === undefined) return;
      const stored = await this.readJobMessage(adv.stream, adv.stream_seq);
      await handler({
        component,
        streamSeq: adv.stream_seq,
        deliveries: adv.deliveries,
        data: stored?.data,
        dedupKey: stored?.dedupKey,
      });
    });
  }

  /** One stored job by sequence; undefined when it (or its stream) is gone. */
  private async readJobMessage(
    stream: string,
    seq: number,
  ): Promise<{ data: Uint8Array; dedupKey: string | undefined } | undefined> {
    try {
      const stored = await this.jsm.streams.getMessage(stream, { seq });
      if (stored === null) return undefined;
      return { data: stored.data, dedupKey: stored.header?.get("Nats-Msg-Id") || undefined };
    } catch (err) {
      if (isMessageNotFound(err) || isStreamNotFound(err)) return undefined;
      throw err;
    }
  }

  async deadLetter(event: ExhaustedDelivery, reason: { reasonCode: string; reasonDetail?: string }): Promise<void> {
    this.guard();
    const stream = jobStreamName(event.component);
    const data = event.data ?? (await this.readJobMessage(stream, event.streamSeq))?.data;
    await this.publishDeadLetterInternal(letterFromEvent(event, data, reason));
    await this.deleteJobMessage(stream, event.streamSeq);
  }

  async publishDeadLetter(letter: DeadLetter): Promise<void> {
    this.guard();
    await this.publishDeadLetterInternal(letter);
  }

  private async publishDeadLetterInternal(letter: DeadLetter): Promise<void> {
    try {
      await publishLetter(this.js, letter);
    } catch (err) {
      if (!isNoResponders(err)) throw err;
      if (!this.provision) throw new BusNotProvisionedError(letter.component, "dead-letter stream");
      await this.ensureShared();
      await publishLetter(this.js, letter);
    }
  }

  async listDeadLetters(component: string): Promise<DeadLetter[]> {
    this.guard();
    try {
      return await readDeadLetters(this.js, component);
    } catch (err) {
      if (isStreamNotFound(err)) return [];
      throw err;
    }
  }
}
