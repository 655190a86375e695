import {
  activeContext,
  endWithError,
  isRecording,
  resultDedupKey,
  startMessagingSpan,
  resultSpan,
  SpanKind,
  TesseraAttr,
  MessagingAttr,
  withSpan,
  type Bus,
  type JobDelivery,
} from "@tessera/bus";
import { ReasonCode, SCHEMA_VERSION, resultSubject, type Job, type Result } from "@tessera/contract";
import type { Logger } from "pino";
import { retryDelayMs } from "./backoff.js";
import type { ComponentDefinition } from "./define-component.js";
import type { HandlerExecutor, HandlerOutcome, Interruption } from "./handler-outcome.js";
import { decodeDelivery, recordInvalidEnvelope, type DecodedDelivery } from "./invalid-envelope.js";
import { markOutcome, startProcessSpan } from "./job-span.js";
import { Keepalive } from "./keepalive.js";
import { setLongTimeout } from "./long-timeout.js";
import type { JobOutcome, WorkerMetrics } from "./metrics.js";
import { storeOutput } from "./output.js";
import { TerminalError } from "./terminal-error.js";

interface ActiveJob {
  /** Ends the run now with `outcome` and stops the handler (see HandlerRun.interrupt); it is not waited for. */
  interrupt(outcome: Interruption): void;
}

export interface JobRunnerDeps {
  definition: ComponentDefinition;
  bus: Bus;
  /** Where the handler runs (the host's thread, or a handler thread). */
  executor: HandlerExecutor;
  /** Checked again here, in the host, on the output a handler returned. */
  maxOutputBytes: number;
  instanceId: string;
  metrics: WorkerMetrics;
  log: Logger;
}

/** The smallest keepalive period, whatever the ack wait: working() is cheap but not free. */
const MIN_KEEPALIVE_MS = 10;

/**
 * Runs one delivery to its end: validate, guard against re-running a finished job, run the handler under
 * its limits, publish the Result, then settle the delivery. The order is the contract: a Result is stored
 * before the ack or term, and a delivery whose Result could not be stored is nak'd, never acked or termed.
 * `run` settles every delivery itself and never rejects.
 */
export class JobRunner {
  private readonly active = new Set<ActiveJob>();
  private readonly definition: ComponentDefinition;
  private readonly bus: Bus;
  private readonly metrics: WorkerMetrics;
  private readonly log: Logger;

  private readonly keepalive = new Keepalive(MIN_KEEPALIVE_MS);
  private shuttingDown = false;

  constructor(private readonly deps: JobRunnerDeps) {
    this.definition = deps.definition;
    this.bus = deps.bus;
    this.metrics = deps.metrics;
    this.log = deps.log;
  }

  /** Handlers running now (a handler abandoned at its timeout no longer counts). */
  get inFlight(): number {
    return this.active.size;
  }

  /** Aborts every running handler; their deliveries are nak'd without delay so they are redelivered promptly. */
  interruptAll(): void {
    this.shuttingDown = true;
    for (const job of [...this.active]) job.interrupt({ kind: "shutdown" });
  }

  async run(delivery: JobDelivery): Promise<void> {
    // The runtime keeps the delivery alive for its whole life here, handler and Result publication alike,
    // so a live job is never redelivered to another worker by the ack wait.
    this.keepalive.add(delivery);
    try {
      await this.process(delivery);
    } catch (err) {
      // Unreachable by design (every path settles); if it happens, keep the job rather than lose it.
      this.log.error(
        { err, streamSeq: delivery.streamSeq },
        "unexpected error while running a delivery; it will be redelivered",
      );
      delivery.nak(this.backoff(delivery.deliveryCount));
    } finally {
      this.keepalive.delete(delivery);
    }
  }

  /** Runs the delivery in its `process` span (job-span.ts), which every log line and the Result's publish sit in. */
  private async process(delivery: JobDelivery): Promise<void> {
    const decoded = decodeDelivery(delivery, this.definition.name);
    const { span, parent } = startProcessSpan(delivery, decoded, this.definition.name);
    try {
      await withSpan(span, () => this.processDecoded(delivery, decoded), parent);
      span.end();
    } catch (err) {
      endWithError(span, err);
      throw err;
    }
  }

  private async processDecoded(delivery: JobDelivery, decoded: DecodedDelivery): Promise<void> {
    if (!decoded.ok) return this.reject(delivery, decoded);
    const { job } = decoded;
    const log = this.jobLog(job.job_id, delivery.deliveryCount);

    // A finished job can come back, and not only as a redelivery: a SIGKILLed nats-server forgets the acks
    // of its last moments and delivers those jobs again with delivery count 1 (they were stored before this
    // worker's connection was made), and it rebuilds its duplicate table from the messages still in the
    // stream, so a coordinator's republish from its outbox is stored anew (published `mayRepeat`). Those
    // look their Result up; a fresh job does not pay for the lookup. (Found by the fault suite.)
    if (mayHaveRun(delivery, this.bus.connectedSince())) {
      let existing: Result | undefined;
      try {
        existing = await this.bus.getResult(this.definition.name, job.job_id);
      } catch (err) {
        const delay = this.backoff(delivery.deliveryCount);
        log().warn(
          { err, retryInMs: delay },
          "could not check whether the job already has a Result; redelivering it later",
        );
        delivery.nak(delay);
        this.count("retried");
        return;
      }
      if (existing !== undefined && finishes(existing, delivery, job.job_id)) {
        log().info(
          { status: existing.status },
          "redelivered job already has a Result; acking without running it again",
        );
        delivery.ack();
        this.count("duplicate");
        return;
      }
    }

    // A job that got past its lookup after interruptAll() must not start a handler nobody will abort.
    if (this.shuttingDown) return this.settle(job, delivery, { kind: "shutdown" }, 0, log);
    const late = timeBudget(job);
    if (late.ms <= 0) return this.settle(job, delivery, { kind: "timeout", detail: late.detail }, 0, log);
    const started = performance.now();
    const outcome = await this.runHandler(job, delivery, log);
    await this.settle(job, delivery, outcome, (performance.now() - started) / 1000, log);
  }

  private async runHandler(job: Job, delivery: JobDelivery, log: () => Logger): Promise<HandlerOutcome> {
    let budgetMs = 0;
    const outcome = await new Promise<HandlerOutcome>((resolve) => {
      const run = this.deps.executor.start({
        job,
        attempt: delivery.deliveryCount,
        working: () => delivery.working(),
        log,
      });
      let ended = false;
      let cancelTimer = (): void => undefined;
      const end = (o: HandlerOutcome): void => {
        if (ended) return;
        ended = true;
        cancelTimer();
        this.active.delete(active);
        this.metrics.setInFlight(this.active.size);
        resolve(o);
      };
      const active: ActiveJob = {
        interrupt: (o) => {
          // End the run first, then stop the handler: the run ends now even if the handler reacts at once.
          end(o);
          run.interrupt(
            o.kind === "timeout"
              ? new DOMException(o.detail, "TimeoutError")
              : new DOMException("the worker is shutting down", "AbortError"),
          );
        },
      };
      this.active.add(active);
      this.metrics.setInFlight(this.active.size);
      // The wall clock is the handler's: it runs from the handler's start, not from waiting for a thread to
      // start (the deadline, absolute, is checked again here). Settled callbacks run later than this, so
      // `end` never sees `active` undefined.
      void run.started.then(() => {
        if (ended) return;
        const budget = timeBudget(job);
        budgetMs = budget.ms;
        cancelTimer = setLongTimeout(
          () => active.interrupt({ kind: "timeout", detail: budget.detail }),
          Math.max(0, budget.ms),
        );
      });
      void run.outcome.then(end);
    });
    if (outcome.kind === "timeout")
      log().warn({ budgetMs }, "handler timed out; its signal is aborted (and a handler thread terminated)");
    return outcome;
  }

  private async settle(
    job: Job,
    delivery: JobDelivery,
    outcome: HandlerOutcome,
    seconds: number,
    log: () => Logger,
  ): Promise<void> {
    const attempt = delivery.deliveryCount;
    if (outcome.kind === "shutdown") {
      log().warn("handler aborted by shutdown; the job goes back to the queue");
      delivery.nak(0);
      this.count("retried", seconds);
      return;
    }
    if (outcome.kind === "error") {
      const delay = this.backoff(attempt);
      log().warn({ err: outcome.error, retryInMs: delay }, "handler failed; the job will be retried");
      delivery.nak(delay);
      this.count("retried", seconds);
      return;
    }

    let result: Result;
    let metric: JobOutcome;
    try {
      let output: Result["output"];
      if (outcome.kind === "returned") {
        try {
          output = await storeOutput(outcome.output, job.job_id, this.bus.payloads, this.deps.maxOutputBytes);
        } catch (err) {
          if (!(err instanceof TerminalError)) throw err;
          outcome = { kind: "terminal", code: err.reasonCode, detail: err.message };
        }
      }
      // reason_detail is sanitized by the Result's validation on publish.
      if (outcome.kind === "returned") {
        result = this.result(job, attempt, seconds, {
          status: "completed",
          ...(output !== undefined ? { output } : {}),
        });
        metric = "completed";
      } else if (outcome.kind === "timeout") {
        result = this.result(job, attempt, seconds, {
          status: "failed",
          reason_code: ReasonCode.Timeout,
          reason_detail: outcome.detail,
        });
        metric = "timeout";
      } else {
        result = this.result(job, attempt, seconds, {
          status: "failed",
          reason_code: outcome.code,
          reason_detail: outcome.detail,
        });
        metric = "failed";
      }
      await this.publishResult(result);
    } catch (err) {
      const delay = this.backoff(attempt);
      log().error({ err, retryInMs: delay }, "could not store the Result; the job will be redelivered");
      delivery.nak(delay);
      this.count("retried", seconds);
      return;
    }
    if (result.status === "completed") {
      delivery.ack();
      if (this.log.isLevelEnabled("debug")) log().debug({ durationMs: result.duration_ms }, "job completed");
    } else {
      delivery.term();
      log().info({ reasonCode: result.reason_code, reasonDetail: result.reason_detail }, "job failed");
    }
    this.count(metric, seconds);
  }

  /** Counts the delivery's outcome, and says it on its span. */
  private count(outcome: JobOutcome, seconds?: number): void {
    this.metrics.count(outcome, seconds);
    markOutcome(outcome);
  }

  /** Publishes the Result in its own `publish` span (a child of the delivery's), whose context it carries. */
  private async publishResult(result: Result): Promise<void> {
    const parent = activeContext();
    if (!isRecording(parent)) return this.bus.publishResult(result);
    const span = startMessagingSpan(SpanKind.PRODUCER, resultSpan("send", result.component), parent, {
      [MessagingAttr.destinationName]: resultSubject(result.component, result.job_id),
      [MessagingAttr.messageId]: resultDedupKey(result),
      [TesseraAttr.jobId]: result.job_id,
      [TesseraAttr.resultStatus]: result.status,
      ...(result.reason_code !== undefined ? { [TesseraAttr.reasonCode]: result.reason_code } : {}),
    });
    try {
      await withSpan(span, () => this.bus.publishResult(result), parent);
      span.end();
    } catch (err) {
      endWithError(span, err);
      throw err;
    }
  }

  private result(
    job: Job,
    attempt: number,
    seconds: number,
    rest: Pick<Result, "status" | "reason_code" | "reason_detail" | "output">,
  ): Result {
    return {
      schema_version: SCHEMA_VERSION,
      job_id: job.job_id,
      component: this.definition.name,
      attempt,
      instance_id: this.deps.instanceId,
      finished_at: new Date().toISOString(),
      duration_ms: Math.round(seconds * 1_000_000) / 1000,
      ...rest,
    };
  }

  /** An invalid envelope never becomes valid on redelivery: record why, then term. If recording fails, nak. */
  private async reject(delivery: JobDelivery, invalid: Extract<DecodedDelivery, { ok: false }>): Promise<void> {
    const log = this.log.child({
      jobId: invalid.jobId,
      streamSeq: delivery.streamSeq,
      attempt: delivery.deliveryCount,
    });
    try {
      await recordInvalidEnvelope(this.bus, delivery, invalid, {
        component: this.definition.name,
        instanceId: this.deps.instanceId,
      });
    } catch (err) {
      const delay = this.backoff(delivery.deliveryCount);
      log.error(
        { err, reasonCode: invalid.reasonCode, retryInMs: delay },
        "invalid job envelope, and recording why failed; it will be redelivered",
      );
      delivery.nak(delay);
      this.count("retried");
      return;
    }
    log.warn(
      {
        reasonCode: invalid.reasonCode,
        reasonDetail: invalid.detail,
        recordedAs: invalid.jobId !== undefined ? "failed Result" : "dead letter",
      },
      "invalid job envelope; terming it",
    );
    delivery.term();
    this.count("invalid");
  }

  /** The job's child logger, made on first use: most jobs never log. */
  private jobLog(jobId: string, attempt: number): () => Logger {
    let child: Logger | undefined;
    return () => (child ??= this.log.child({ jobId, attempt }));
  }

  private backoff(attempt: number): number {
    return retryDelayMs(attempt, this.definition.retry);
  }
}

/**
 * Whether an existing Result finishes this delivery (ack it without running). A message published under the
 * bare job id (the outbox's first publish, or any republish of it) is the same run: any Result finishes it.
 * A message under another dedup key is a run the coordinator asked for again (a redrive,
 * `<job id>:redrive:<n>`; an in-process requeue): only a Result produced after it was stored finishes it,
 * so the Result of the failure that was redriven does not swallow the new run.
 */
export function finishes(
  existing: Pick<Result, "finished_at">,
  delivery: Pick<JobDelivery, "dedupKey" | "publishedAt">,
  jobId: string,
): boolean {
  if (delivery.dedupKey === jobId) return true;
  return Date.parse(existing.finished_at) >= delivery.publishedAt;
}

/** How far the server's clock (a job's `publishedAt`) may run behind the worker's for `mayHaveRun`. */
const CLOCK_SLACK_MS = 2_000;

/**
 * Whether this delivery may be of a job that already ran, so its Result is looked up first:
 * - a redelivery by count, or a job older than one ack wait (a server does not count a delivery whose
 *   pull request's client had gone away, so a crashed worker's job may come back with count 1);
 * - a republish from the coordinator's outbox (`mayRepeat`);
 * - a job stored before the bus's current connection was made (a restarted server may have forgotten
 *   that it was acked), with slack for the server's clock.
 * A backend that cannot tell when a job was stored (publishedAt not a number) relies on the rest.
 */
export function mayHaveRun(
  delivery: Pick<JobDelivery, "deliveryCount" | "publishedAt" | "ackWaitMs" | "mayRepeat">,
  connectedSince: number,
  now = Date.now(),
): boolean {
  if (delivery.deliveryCount > 1 || delivery.mayRepeat === true) return true;
  if (typeof delivery.publishedAt !== "number") return false;
  return now - delivery.publishedAt >= delivery.ackWaitMs || delivery.publishedAt <= connectedSince + CLOCK_SLACK_MS;
}

interface TimeBudget {
  /** Milliseconds the handler may still run; <= 0 when the deadline has already passed. */
  ms: number;
  /** The reason_detail of a timeout within this budget. */
  detail: string;
}

/** min(limits.wall_clock, deadline − now), with the timeout's explanation. */
function timeBudget(job: Job): TimeBudget {
  const wallClock = job.limits.wall_clock;
  const untilDeadline = job.deadline !== undefined ? Date.parse(job.deadline) - Date.now() : Number.POSITIVE_INFINITY;
  if (untilDeadline <= 0)
    return { ms: 0, detail: `the job's deadline ${job.deadline ?? ""} had passed before it started` };
  if (untilDeadline < wallClock)
    return { ms: untilDeadline, detail: `the handler was still running at the job's deadline ${job.deadline ?? ""}` };
  return { ms: wallClock, detail: `the handler exceeded its wall clock limit of ${wallClock} ms` };
}
