import { PayloadMissingError, PayloadNotOwnedError, PayloadTooLargeError, type Bus, type JobDelivery } from "@tessera/bus";
import {
  ContractValidationError,
  INLINE_OUTPUT_MAX_BYTES,
  JOB_ID_PATTERN,
  ReasonCode,
  SCHEMA_VERSION,
  decodeJob,
  sanitizeReasonDetail,
  type Job,
  type Result,
} from "@tessera/contract";
import type { Logger } from "pino";
import { retryDelayMs } from "./backoff.js";
import type { ComponentDefinition } from "./define-component.js";
import { createHandlerContext } from "./handler-context.js";
import type { JobOutcome, WorkerMetrics } from "./metrics.js";
import { TerminalError } from "./terminal-error.js";

const JOB_ID = new RegExp(JOB_ID_PATTERN);

type HandlerOutcome =
  | { kind: "returned"; value: unknown }
  | { kind: "terminal"; code: string; detail: unknown }
  | { kind: "error"; error: unknown }
  | { kind: "timeout" }
  | { kind: "shutdown" };

interface ActiveJob {
  controller: AbortController;
  interrupt: (outcome: HandlerOutcome) => void;
}

/**
 * Runs one delivery to its end: validate, guard against re-running a finished job, run the handler under
 * its limits, publish the Result, then settle the delivery. The order is the contract: a Result is stored
 * before the ack or term, and a delivery whose Result could not be stored is nak'd, never acked.
 */
export class JobRunner {
  private readonly active = new Set<ActiveJob>();

  constructor(
    private readonly definition: ComponentDefinition,
    private readonly bus: Bus,
    private readonly instanceId: string,
    private readonly metrics: WorkerMetrics,
    private readonly log: Logger,
  ) {}

  get inFlight(): number {
    return this.active.size;
  }

  /** Aborts every running handler; their deliveries are nak'd so they are redelivered promptly. */
  interruptAll(): void {
    for (const job of this.active) job.interrupt({ kind: "shutdown" });
  }

  async run(delivery: JobDelivery): Promise<void> {
    const decoded = decodeJob(delivery.data);
    let problem: ContractValidationError | undefined = decoded.ok ? undefined : decoded.error;
    if (decoded.ok && decoded.value.component !== this.definition.name) {
      problem = new ContractValidationError("Job", [
        { path: "component", expected: JSON.stringify(this.definition.name), received: `string ${JSON.stringify(decoded.value.component)} (a job for another component)` },
      ]);
    }
    if (!decoded.ok || problem !== undefined) {
      const code = !decoded.ok && decoded.problem === "unsupported_schema_version" ? ReasonCode.UnsupportedSchemaVersion : ReasonCode.InvalidEnvelope;
      return this.rejectEnvelope(delivery, code, (problem as ContractValidationError).message);
    }
    const job = decoded.value;
    if (delivery.deliveryCount > 1) {
      try {
        if ((await this.bus.getResult(this.definition.name, job.job_id)) !== undefined) {
          delivery.ack();
          this.metrics.count("duplicate");
          return;
        }
      } catch (err) {
        this.log.warn({ err, jobId: job.job_id }, "could not check for an existing Result; retrying the delivery later");
        delivery.nak(retryDelayMs(delivery.deliveryCount, this.definition.retry));
        return;
      }
    }
    await this.execute(job, delivery);
  }

  private async execute(job: Job, delivery: JobDelivery): Promise<void> {
    const started = performance.now();
    const deadlineMs = job.deadline !== undefined ? Date.parse(job.deadline) - Date.now() : Number.POSITIVE_INFINITY;
    const budgetMs = Math.min(job.limits.wall_clock, deadlineMs);
    const log = this.log.child({ jobId: job.job_id, attempt: delivery.deliveryCount });
    let outcome: HandlerOutcome;
    if (budgetMs <= 0) {
      outcome = { kind: "timeout" };
    } else {
      const controller = new AbortController();
      let interrupt: (o: HandlerOutcome) => void = () => undefined;
      const interrupted = new Promise<HandlerOutcome>((resolve) => (interrupt = resolve));
      const active: ActiveJob = { controller, interrupt };
      this.active.add(active);
      this.metrics.setInFlight(this.active.size);
      const timer = setTimeout(() => interrupt({ kind: "timeout" }), budgetMs);
      const keepalive = setInterval(() => delivery.working(), Math.max(Math.floor(delivery.ackWaitMs / 3), 10));
      const ctx = createHandlerContext({ job, attempt: delivery.deliveryCount, signal: controller.signal, bus: this.bus, working: () => delivery.working(), log });
      try {
        outcome = await Promise.race([this.invoke(ctx), interrupted]);
      } finally {
        clearTimeout(timer);
        clearInterval(keepalive);
        this.active.delete(active);
        this.metrics.setInFlight(this.active.size);
      }
      if (outcome.kind === "timeout" || outcome.kind === "shutdown") controller.abort(new Error(outcome.kind === "timeout" ? `wall clock of ${budgetMs} ms exceeded` : "worker shutting down"));
    }
    const seconds = (performance.now() - started) / 1000;
    await this.settle(job, delivery, outcome, seconds, log);
  }

  private async invoke(ctx: Parameters<ComponentDefinition["handle"]>[0]): Promise<HandlerOutcome> {
    try {
      return { kind: "returned", value: await this.definition.handle(ctx) };
    } catch (error) {
      if (error instanceof TerminalError) return { kind: "terminal", code: error.reasonCode, detail: error.message };
      if (error instanceof PayloadTooLargeError || error instanceof PayloadNotOwnedError || error instanceof PayloadMissingError) {
        return { kind: "terminal", code: error.code, detail: error.message };
      }
      return { kind: "error", error };
    }
  }

  private async settle(job: Job, delivery: JobDelivery, outcome: HandlerOutcome, seconds: number, log: Logger): Promise<void> {
    const attempt = delivery.deliveryCount;
    if (outcome.kind === "shutdown") {
      delivery.nak(0);
      return;
    }
    if (outcome.kind === "error") {
      const delay = retryDelayMs(attempt, this.definition.retry);
      log.warn({ err: outcome.error, retryInMs: delay }, "handler failed; the job will be retried");
      delivery.nak(delay);
      this.metrics.count("retried", seconds);
      return;
    }
    let result: Result;
    let metric: JobOutcome;
    try {
      if (outcome.kind === "returned") {
        result = this.result(job, attempt, seconds, "completed", { output: await this.output(job, outcome.value) });
        metric = "completed";
      } else if (outcome.kind === "timeout") {
        result = this.result(job, attempt, seconds, "failed", {
          reason_code: ReasonCode.Timeout,
          reason_detail: `the job exceeded its time budget (wall_clock ${job.limits.wall_clock} ms${job.deadline !== undefined ? `, deadline ${job.deadline}` : ""})`,
        });
        metric = "timeout";
      } else {
        result = this.result(job, attempt, seconds, "failed", { reason_code: outcome.code, reason_detail: sanitizeReasonDetail(outcome.detail) });
        metric = "failed";
      }
      await this.bus.publishResult(result);
    } catch (err) {
      const delay = retryDelayMs(attempt, this.definition.retry);
      log.error({ err, retryInMs: delay }, "could not store the Result; the job will be redelivered");
      delivery.nak(delay);
      this.metrics.count("retried", seconds);
      return;
    }
    if (result.status === "completed") delivery.ack();
    else delivery.term();
    this.metrics.count(metric, seconds);
  }

  private async output(job: Job, value: unknown): Promise<Result["output"]> {
    if (value === undefined) return undefined;
    if (value instanceof Uint8Array) return { result_ref: await this.bus.payloads.put(job.job_id, value) };
    const json = JSON.stringify(value);
    if (json === undefined) return undefined;
    if (Buffer.byteLength(json) <= INLINE_OUTPUT_MAX_BYTES) return { data: value };
    return { result_ref: await this.bus.payloads.put(job.job_id, new TextEncoder().encode(json)) };
  }

  private result(job: Job, attempt: number, seconds: number, status: Result["status"], rest: Partial<Result>): Result {
    const result: Result = {
      schema_version: SCHEMA_VERSION,
      job_id: job.job_id,
      component: this.definition.name,
      status,
      attempt,
      instance_id: this.instanceId,
      finished_at: new Date().toISOString(),
      duration_ms: Math.round(seconds * 1000 * 1000) / 1000,
      ...rest,
    };
    if (result.output === undefined) delete result.output;
    return result;
  }

  /**
   * An invalid envelope never becomes valid on redelivery: record why (a failed Result under its job id,
   * or a dead letter when no job id can be found) and term it. If recording fails, nak, never drop.
   */
  private async rejectEnvelope(delivery: JobDelivery, code: string, detail: string): Promise<void> {
    const jobId = claimedJobId(delivery.data) ?? (delivery.dedupKey !== undefined && JOB_ID.test(delivery.dedupKey) ? delivery.dedupKey : undefined);
    this.log.warn({ jobId, streamSeq: delivery.streamSeq, reason: code, detail }, "invalid job envelope; terming it");
    try {
      if (jobId !== undefined) {
        await this.bus.publishResult({
          schema_version: SCHEMA_VERSION,
          job_id: jobId,
          component: this.definition.name,
          status: "failed",
          reason_code: code,
          reason_detail: detail,
          attempt: delivery.deliveryCount,
          instance_id: this.instanceId,
          finished_at: new Date().toISOString(),
        });
      } else {
        await this.bus.publishDeadLetter({
          component: this.definition.name,
          jobId: undefined,
          streamSeq: delivery.streamSeq,
          deliveries: delivery.deliveryCount,
          reasonCode: code,
          reasonDetail: detail,
          data: delivery.data,
          deadLetteredAt: new Date().toISOString(),
        });
      }
    } catch (err) {
      this.log.error({ err }, "could not record why the envelope is invalid; it will be redelivered");
      delivery.nak(retryDelayMs(delivery.deliveryCount, this.definition.retry));
      return;
    }
    delivery.term();
    this.metrics.count("invalid");
  }
}

/** The job id an invalid envelope claims, when it claims a well-formed one. */
function claimedJobId(data: Uint8Array): string | undefined {
  try {
    const value = JSON.parse(new TextDecoder().decode(data)) as { job_id?: unknown } | null;
    const id = value?.job_id;
    return typeof id === "string" && JOB_ID.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}
