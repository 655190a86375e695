import { resultDedupKey } from "../result-dedup-key.js";
import {
  encodeHeartbeat,
  encodeJob,
  resultSubject,
  sanitizeReasonDetail,
  validateResult,
  type ComponentBusSettings,
  type Job,
  type Result,
} from "@tessera/contract";
import type {
  BusInventory,
  Bus,
  DeadLetter,
  ExhaustedDelivery,
  HeartbeatEvent,
  PublishAck,
  PublishJobOptions,
  ResultEvent,
  Subscription,
  CoordinatorMembership,
  CoordinatorPresence,
  BusTopology,
} from "../bus.js";
import { jobIdOf } from "../envelope-job-id.js";
import { BusClosedError, BusNotProvisionedError } from "../errors.js";
import { DedupWindow } from "./dedup-window.js";
import { DurableLog } from "./durable-log.js";
import { InMemoryPayloadStore } from "./payload-store.js";
import { WorkQueue } from "./work-queue.js";
import { injectTrace, type TraceCarrier } from "../tracing/trace-context.js";

export interface InProcessBusOptions {
  /** How long payloads live. Default 24 h, as in the JetStream backend. */
  payloadTtlMs?: number;
  /**
   * How long a Result stays readable through getResult(), the JetStream backend's results max age. Default 1 h,
   * not its 7 days: held in memory, 7 days of Results would grow the process without bound, and in one
   * process a finished job can only come back while its run is still settling (an ack wait, a retry).
   */
  resultsMaxAgeMs?: number;
  /**
   * How many Results getResult() finds at most, the oldest forgotten first, as a stream's max messages; also
   * how many Result ids the duplicate window holds. Default 100,000 (about 33 MB of small Results, measured):
   * at 20,000 jobs/s an hour's Results would be 72 million, and two minutes' ids 2.4 million.
   */
  resultsMaxCount?: number;
  /** Clock, for tests. */
  now?: () => number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const RESULT_DEDUP_WINDOW_MS = 120_000;
const DEFAULT_RESULTS_MAX_COUNT = 100_000;

/**
 * The embedded default: the Bus semantics of the JetStream backend in one process, with nothing to
 * install. Coordinator and workers share one instance.
 */
export function createInProcessBus(opts: InProcessBusOptions = {}): Bus {
  return new InProcessBus(opts);
}

class InProcessBus implements Bus {
  private readonly createdAt = Date.now();
  readonly kind = "inprocess" as const;
  readonly payloads: InMemoryPayloadStore;
  private readonly now: () => number;
  private readonly queues = new Map<string, WorkQueue>();
  private readonly results: DedupWindow<Result>;
  private readonly resultLog = new DurableLog<{ result: Result; traceHeaders: TraceCarrier | undefined }>();
  private readonly resultDedup: DedupWindow<true>;
  private readonly exhaustedLog = new DurableLog<ExhaustedDelivery>();
  private readonly deadLetters = new Map<string, DeadLetter[]>();
  private readonly deadLetterKeys = new Set<string>();
  private readonly heartbeatHandlers = new Set<{ handler: (event: HeartbeatEvent) => void; stop: () => void }>();
  private closed = false;
  private readonly coordinators = new Set<CoordinatorPresence>();

  constructor(opts: InProcessBusOptions) {
    this.now = opts.now ?? Date.now;
    this.payloads = new InMemoryPayloadStore(opts.payloadTtlMs ?? DAY_MS, this.now, () => this.assertOpen());
    const resultsMaxAgeMs = opts.resultsMaxAgeMs ?? HOUR_MS;
    if (!(resultsMaxAgeMs > 0))
      throw new RangeError(`resultsMaxAgeMs: expected a number of milliseconds > 0, got ${resultsMaxAgeMs}`);
    const resultsMaxCount = opts.resultsMaxCount ?? DEFAULT_RESULTS_MAX_COUNT;
    if (!Number.isInteger(resultsMaxCount) || resultsMaxCount < 1)
      throw new RangeError(`resultsMaxCount: expected an integer >= 1, got ${resultsMaxCount}`);
    this.results = new DedupWindow(resultsMaxAgeMs, this.now, resultsMaxCount);
    this.resultDedup = new DedupWindow(Math.min(RESULT_DEDUP_WINDOW_MS, resultsMaxAgeMs), this.now, resultsMaxCount);
  }

  topology(): BusTopology {
    return { clustered: false, streamReplicas: 1 };
  }

  async ensureComponent(settings: ComponentBusSettings): Promise<void> {
    this.assertOpen();
    const existing = this.queues.get(settings.name);
    if (existing !== undefined) existing.reconfigure(settings);
    else this.queues.set(settings.name, new WorkQueue(settings, this.now, (e) => this.exhaustedLog.append(e)));
  }

  async removeComponent(component: string): Promise<void> {
    this.assertOpen();
    this.queues.get(component)?.close();
    this.queues.delete(component);
  }

  async publishJob(job: Job, opts: PublishJobOptions = {}): Promise<PublishAck> {
    return this.queue(job.component, "stream").publish(
      opts.encoded ?? encodeJob(job),
      opts.dedupKey ?? job.job_id,
      opts.mayRepeat === true,
      injectTrace(),
    );
  }

  async publishRawJob(component: string, data: Uint8Array, opts: { dedupKey?: string } = {}): Promise<PublishAck> {
    // A private copy, as a network publish would make: the caller may reuse its buffer.
    return this.queue(component, "stream").publish(data.slice(), opts.dedupKey);
  }

  async consumeJobs(
    component: string,
    opts: { maxInFlight: number; bindOnly?: boolean },
    handler: Parameters<Bus["consumeJobs"]>[2],
  ): Promise<Subscription> {
    if (!Number.isInteger(opts.maxInFlight) || opts.maxInFlight < 1)
      throw new RangeError(`maxInFlight: expected an integer >= 1, got ${opts.maxInFlight}`);
    return this.queue(component, "durable consumer").subscribe(opts.maxInFlight, handler);
  }

  async queueDepth(component: string) {
    return this.queue(component, "durable consumer").depth();
  }

  async publishResult(result: Result): Promise<void> {
    this.assertOpen();
    const checked = validateResult(result);
    if (!checked.ok) throw checked.error;
    const key = resultDedupKey(result);
    if (this.resultDedup.get(key) !== undefined) return;
    this.resultDedup.set(key, true);
    this.results.set(resultKey(result.component, result.job_id), checked.value);
    this.resultLog.append({ result: checked.value, traceHeaders: injectTrace() });
  }

  async getResult(component: string, jobId: string): Promise<Result | undefined> {
    this.assertOpen();
    return this.results.get(resultKey(component, jobId));
  }

  async consumeResults(handler: (event: ResultEvent) => void | Promise<void>): Promise<Subscription> {
    this.assertOpen();
    return this.resultLog.consume(({ result, traceHeaders }) =>
      handler({
        kind: "result",
        result,
        subject: resultSubject(result.component, result.job_id),
        ...(traceHeaders !== undefined ? { traceHeaders } : {}),
      }),
    );
  }

  async joinCoordinators(self: CoordinatorPresence): Promise<CoordinatorMembership> {
    this.assertOpen();
    const peers = [...this.coordinators];
    this.coordinators.add(self);
    return {
      peers,
      leave: () => {
        this.coordinators.delete(self);
        return Promise.resolve();
      },
    };
  }

  async publishHeartbeat(heartbeat: Parameters<Bus["publishHeartbeat"]>[0]): Promise<void> {
    this.assertOpen();
    encodeHeartbeat(heartbeat);
    for (const { handler } of this.heartbeatHandlers) queueMicrotask(() => handler({ kind: "heartbeat", heartbeat }));
  }

  async subscribeHeartbeats(handler: (event: HeartbeatEvent) => void): Promise<Subscription> {
    this.assertOpen();
    let stopped: () => void = () => undefined;
    const closed = new Promise<void>((r) => (stopped = r));
    const stop = (): void => {
      this.heartbeatHandlers.delete(entry);
      stopped();
    };
    const entry = { handler, stop };
    this.heartbeatHandlers.add(entry);
    return { closed, stop: async () => stop() };
  }

  async observeExhausted(handler: (event: ExhaustedDelivery) => void | Promise<void>): Promise<Subscription> {
    this.assertOpen();
    // Read the message at observation time, as the JetStream backend does: it may be gone by then.
    return this.exhaustedLog.consume((event) => {
      const msg = this.queues.get(event.component)?.get(event.streamSeq);
      return handler({ ...event, data: msg?.data, dedupKey: msg?.dedupKey ?? event.dedupKey });
    });
  }

  async deadLetter(event: ExhaustedDelivery, reason: { reasonCode: string; reasonDetail?: string }): Promise<void> {
    this.assertOpen();
    const data = event.data ?? this.queues.get(event.component)?.get(event.streamSeq)?.data ?? new Uint8Array();
    await this.publishDeadLetter({
      component: event.component,
      jobId: jobIdOf(data) ?? event.dedupKey,
      streamSeq: event.streamSeq,
      deliveries: event.deliveries,
      reasonCode: reason.reasonCode,
      reasonDetail: reason.reasonDetail ?? "",
      data,
      deadLetteredAt: new Date(this.now()).toISOString(),
    });
    this.queues.get(event.component)?.remove(event.streamSeq);
  }

  async publishDeadLetter(letter: DeadLetter): Promise<void> {
    this.assertOpen();
    const key =
      letter.streamSeq !== undefined
        ? `${letter.component}:${letter.streamSeq}`
        : `${letter.component}:${letter.jobId ?? ""}:${letter.deadLetteredAt}`;
    if (this.deadLetterKeys.has(key)) return;
    this.deadLetterKeys.add(key);
    const list = this.deadLetters.get(letter.component) ?? [];
    list.push({ ...letter, reasonDetail: sanitizeReasonDetail(letter.reasonDetail) });
    this.deadLetters.set(letter.component, list);
  }

  async listDeadLetters(component: string): Promise<DeadLetter[]> {
    this.assertOpen();
    return [...(this.deadLetters.get(component) ?? [])];
  }

  async inventory(components: readonly string[]): Promise<BusInventory> {
    this.assertOpen();
    const wanted = new Set(components);
    return {
      results: this.results.values().filter((r) => wanted.has(r.component)),
      stored: components.flatMap((component) =>
        (this.queues.get(component)?.stored() ?? []).map((m) => ({
          component,
          jobId: jobIdOf(m.data) ?? m.dedupKey,
          streamSeq: m.seq,
        })),
      ),
      deadLetters: components.flatMap((c) => this.deadLetters.get(c) ?? []),
    };
  }

  async removeJob(component: string, streamSeq: number): Promise<boolean> {
    return this.queue(component, "stream").remove(streamSeq);
  }

  isConnected(): boolean {
    return !this.closed;
  }

  connectedSince(): number {
    return this.createdAt;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const q of this.queues.values()) q.close();
    this.resultLog.close();
    this.exhaustedLog.close();
    for (const { stop } of [...this.heartbeatHandlers]) stop();
  }

  private queue(component: string, what: string): WorkQueue {
    this.assertOpen();
    const q = this.queues.get(component);
    if (q === undefined) throw new BusNotProvisionedError(component, what);
    return q;
  }

  private assertOpen(): void {
    if (this.closed) throw new BusClosedError();
  }
}

function resultKey(component: string, jobId: string): string {
  return `${component}\u0000${jobId}`;
}
