import type { PayloadStore } from "@tessera/bus";
import {
  encodeJob,
  ReasonCode,
  SCHEMA_VERSION,
  sanitizeReasonDetail,
  type ComponentSpec,
  type Job,
  type Result,
} from "@tessera/contract";
import { createEgress, type Egress } from "@tessera/egress";
import type { Logger } from "pino";
import type { PublishStage } from "../dispatch/outbox-relay.js";
import { FETCH_ALLOW, FETCH_CONCURRENCY, FETCH_SECRETS } from "../settings/setting-definitions.js";
import type { Settings } from "../settings/settings.js";
import type { JobSummary } from "../store/job-row.js";
import type { JobStorage, OutboxEntry } from "../store/job-storage.js";
import { ANY_CONTENT_TYPE, fetchSource, HEADER_SAFE, type FetchOutcome } from "./fetch-source.js";
import { SourceSecretBook } from "./source-config.js";

export interface SourceStageOptions {
  /** Named in a failed job's `instance_id`: the fetch ran here, not on a worker. */
  coordinatorId: string;
  egress: Egress;
  secrets: SourceSecretBook;
  payloads: PayloadStore;
  store: JobStorage;
  log: Logger;
  /** Fetches at once (`fetch.concurrency`), read before each one starts. */
  concurrency: () => number;
  /**
   * The component's egress as this coordinator registers it: a job submitted under another spec (before a restart,
   * or through a replica running another version) may meet this one.
   */
  egressOf: (component: string) => ComponentSpec["egress"] | undefined;
  /** A held job became publishable or was let go: the relay should look again. */
  onChange: () => void;
  /** A job failed because its source could not be fetched. */
  onFailed: (job: JobSummary) => void;
  /** Waits before the 2nd, 3rd, ... try of a fetch that may succeed later; tests shorten them. */
  retryDelaysMs?: readonly number[];
}

/** The stage for a coordinator, configured by its settings (`fetch.allow`, `fetch.secrets`, `fetch.concurrency`). */
export function createSourceStage(
  parts: { id: string; bus: { payloads: PayloadStore }; store: JobStorage; settings: Settings; log: Logger },
  hooks: Pick<SourceStageOptions, "egressOf" | "onChange" | "onFailed">,
): SourceStage {
  return new SourceStage({
    coordinatorId: parts.id,
    egress: createEgress({ allow: parts.settings.read(FETCH_ALLOW) }),
    secrets: new SourceSecretBook(parts.settings.secret(FETCH_SECRETS.name)),
    payloads: parts.bus.payloads,
    store: parts.store,
    log: parts.log,
    concurrency: () => parts.settings.read(FETCH_CONCURRENCY),
    ...hooks,
  });
}

/** Two retries, after about 1 s and 4 s (jittered): enough for a restart or a blip, not a slot held for long. */
export const SOURCE_RETRY_DELAYS_MS = [1_000, 4_000] as const;
/** Most source-locator jobs one coordinator holds at once; beyond that they stay in the outbox until there is room. */
const MAX_HELD = 10_000;
/** Before a job whose fetch broke for a reason of ours (the payload store down) goes back to the outbox. */
const RELEASE_DELAY_MS = 5_000;

type Attempt = { ok: true; entry: OutboxEntry } | (Extract<FetchOutcome, { ok: false }> & { tries: number });

/**
 * Fetches the input of source-locator jobs before the relay publishes them (decision 0026). The relay hands it
 * every batch; it keeps the jobs whose input is a `source_locator`, fetches each through the egress guard into the
 * payload store, and gives them back with the envelope a worker reads: the same job with `content_ref`. The rows
 * stay claimed by this coordinator the whole time, so no other replica fetches them unless this one dies. A fetch
 * the source is to blame for fails the job with a reason code, after retries only where a retry can help.
 */
export class SourceStage implements PublishStage {
  private readonly tasks = new Map<number, Promise<void>>();
  private readonly ready = new Map<number, OutboxEntry>();
  /** Entries this stage made, so that only those come back to it from the relay. */
  private readonly produced = new WeakSet<OutboxEntry>();
  private readonly waiters: Array<() => void> = [];
  private running = 0;
  private readonly stopping = new AbortController();

  constructor(private readonly opts: SourceStageOptions) {}

  /** The secrets a source locator may name: a submit is checked against them. */
  get secrets(): SourceSecretBook {
    return this.opts.secrets;
  }

  holds(id: number): boolean {
    return this.tasks.has(id) || this.ready.has(id);
  }

  heldIds(): number[] {
    return [...this.tasks.keys(), ...this.ready.keys()];
  }

  admit(batch: OutboxEntry[]): OutboxEntry[] {
    const publishable: OutboxEntry[] = [];
    for (const entry of batch) {
      if (entry.envelope.input.source_locator === undefined) publishable.push(entry);
      else if (!this.stopping.signal.aborted && !this.holds(entry.id) && this.tasks.size + this.ready.size < MAX_HELD)
        this.tasks.set(entry.id, this.resolve(entry));
    }
    return publishable;
  }

  takeReady(max: number): OutboxEntry[] {
    const taken: OutboxEntry[] = [];
    for (const [id, entry] of this.ready) {
      if (taken.length >= max) break;
      this.ready.delete(id);
      taken.push(entry);
    }
    return taken;
  }

  putBack(entries: readonly OutboxEntry[], mayHaveBeenPublished: boolean): void {
    for (const entry of entries) {
      if (!this.produced.has(entry)) continue;
      const back = mayHaveBeenPublished ? { ...entry, mayRepeat: true } : entry;
      this.produced.add(back);
      this.ready.set(back.id, back);
    }
  }

  /** Aborts every fetch (their rows stay in the outbox for whoever runs next) and closes the egress guard. */
  async stop(): Promise<void> {
    this.stopping.abort(new Error("the coordinator is stopping"));
    for (const wake of this.waiters.splice(0)) wake();
    await Promise.allSettled(this.tasks.values());
    await this.opts.egress.close();
  }

  private async resolve(entry: OutboxEntry): Promise<void> {
    const { job_id: jobId, component } = entry.envelope;
    try {
      const attempt = await this.attempt(entry);
      if (attempt.ok) this.ready.set(entry.id, attempt.entry);
      else await this.fail(entry.envelope, attempt);
    } catch (err) {
      if (!this.stopping.signal.aborted) {
        this.opts.log.warn(
          { err, jobId, component },
          "could not fetch a job's source (not the source's fault); it is tried again",
        );
        await this.sleep(RELEASE_DELAY_MS);
      }
    } finally {
      this.tasks.delete(entry.id);
      this.opts.onChange();
    }
  }

  private async attempt(entry: OutboxEntry): Promise<Attempt> {
    const job = entry.envelope;
    const locator = job.input.source_locator as NonNullable<Job["input"]["source_locator"]>;
    const egress = this.opts.egressOf(job.component);
    if (egress !== "fetch-controlled")
      return refused(
        ReasonCode.InputModeUnsupported,
        `${job.component} is registered with egress ${egress ?? "(not registered here)"}: only a fetch-controlled component's source_locator is fetched for it`,
      );
    let authorization: string | undefined;
    if (locator.source_secret_ref !== undefined) {
      // Checked at submit; should a stored URL not parse all the same, the job fails as the fetch would fail it.
      const url = URL.canParse(locator.source_url) ? new URL(locator.source_url) : undefined;
      if (url === undefined) return refused("fetch_bad_url", `${JSON.stringify(locator.source_url)} is not a URL`);
      const found = this.opts.secrets.lookup(locator.source_secret_ref, url);
      if ("problem" in found) return refused("source_secret_unavailable", found.problem);
      authorization = found.authorization;
    }
    const delays = this.opts.retryDelaysMs ?? SOURCE_RETRY_DELAYS_MS;
    for (let tries = 1; ; tries++) {
      const outcome = await this.withSlot(() =>
        fetchSource(this.opts.egress, this.opts.payloads, {
          job,
          locator,
          authorization,
          signal: this.stopping.signal,
          now: Date.now(),
        }),
      );
      if (outcome.ok) return { ok: true, entry: this.publishable(entry, outcome) };
      const delay = delays[tries - 1];
      if (!outcome.retryable || delay === undefined) return { ...outcome, tries };
      this.opts.log.info(
        { jobId: job.job_id, reasonCode: outcome.code, tries },
        "fetching a job's source failed; trying again",
      );
      await this.sleep(Math.max(outcome.retryAfterMs ?? 0, delay * (0.5 + Math.random() / 2)));
    }
  }

  /** The job as its worker gets it: the fetched bytes by reference, with the type the source served if none was asked for. */
  private publishable(entry: OutboxEntry, fetched: Extract<FetchOutcome, { ok: true }>): OutboxEntry {
    const declared = entry.envelope.content_type;
    const served = fetched.contentType?.trim() ?? "";
    const contentType =
      declared !== ANY_CONTENT_TYPE ? declared : HEADER_SAFE.test(served) ? served : "application/octet-stream";
    const envelope: Job = { ...entry.envelope, content_type: contentType, input: { content_ref: fetched.ref } };
    const made: OutboxEntry = { ...entry, envelope, encoded: encodeJob(envelope) };
    this.produced.add(made);
    return made;
  }

  /** Recorded the way a worker's failed Result would be, so the job's record, events and redrive work as for any failure. */
  private async fail(job: Job, attempt: Exclude<Attempt, { ok: true }>): Promise<void> {
    const result: Result = {
      schema_version: SCHEMA_VERSION,
      job_id: job.job_id,
      component: job.component,
      status: "failed",
      reason_code: attempt.code,
      reason_detail: sanitizeReasonDetail(attempt.detail),
      attempt: Math.max(1, attempt.tries),
      instance_id: this.opts.coordinatorId,
      finished_at: new Date().toISOString(),
    };
    const outcome = await this.opts.store.applyResult(result);
    this.opts.log.info(
      { jobId: job.job_id, component: job.component, reasonCode: attempt.code, tries: attempt.tries },
      "a job's source could not be fetched: the job failed",
    );
    if (outcome.kind === "applied") this.opts.onFailed(outcome.job);
  }

  private async withSlot<T>(run: () => Promise<T>): Promise<T> {
    while (this.running >= this.opts.concurrency()) {
      this.stopping.signal.throwIfAborted();
      await new Promise<void>((wake) => this.waiters.push(wake));
    }
    this.stopping.signal.throwIfAborted();
    this.running += 1;
    try {
      return await run();
    } finally {
      this.running -= 1;
      this.waiters.shift()?.();
    }
  }

  /** Resolves after `ms`, or at once when the stage stops. */
  private sleep(ms: number): Promise<void> {
    const signal = this.stopping.signal;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

/** Refused before any fetch: nothing a retry changes. */
function refused(code: string, detail: string): Attempt {
  return { ok: false, code, detail, retryable: false, tries: 0 };
}
