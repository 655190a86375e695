import type { JobStorage, OutboxEntry } from "../store/job-storage.js";
import { blockedKey } from "../store/job-storage.js";
import type { SqlClient } from "../sql/sql-client.js";
import type { KeyLimits } from "../types.js";
import { KeyLimiter } from "./key-limiter.js";

/**
 * Per-key concurrency and rate limits as the relay sees them. Two implementations: `LocalLimiter`, this
 * process's memory, for a store only one coordinator may use (the memory store); `SharedLimiter`, the
 * database's slots and buckets, exact however many coordinators share it.
 */
export interface DispatchLimiter {
  /** The entries that may be published now, in their order; the others stay in the outbox. */
  acquire(entries: readonly OutboxEntry[], now: number): Promise<OutboxEntry[]>;
  /** Their publish failed: nothing was dispatched, so the slots and rate tokens go back. */
  refund(entries: readonly OutboxEntry[]): Promise<void>;
  /**
   * A job of the component was decided, by this coordinator or another (`limitKey` when known): its slot is
   * free. Idempotent. A shared limiter only forgets that the key looked full.
   */
  released(jobId: string, component: string, limitKey?: string | null): void;
  /**
   * Keys that cannot take a job now (`component<US>key`), for the outbox read to step over, and when a
   * rate-limited one gets its next token. A hint: acquire() decides.
   */
  blocked(now: number): { keys: string[]; nextTokenAt: number | undefined };
}

type LimitsOf = (component: string) => KeyLimits | undefined;

/** How long a key that was full is stepped over without asking the database again. */
const FULL_HINT_MS = 1_000;

/** Limits in this process's memory (a store no other coordinator can share). */
export class LocalLimiter implements DispatchLimiter {
  private readonly limiter: KeyLimiter;

  constructor(limitsOf: LimitsOf) {
    this.limiter = new KeyLimiter(limitsOf);
  }

  /** Takes back the slots of the queued jobs a restarted coordinator finds in its store. */
  async restore(store: JobStorage, now: number): Promise<void> {
    for (const q of await store.queuedWithKeys()) this.limiter.restore(q.jobId, q.component, q.limitKey, now);
  }

  acquire(entries: readonly OutboxEntry[], now: number): Promise<OutboxEntry[]> {
    return Promise.resolve(entries.filter((e) => this.limiter.tryAcquire(e.jobId, e.component, e.limitKey, now)));
  }

  refund(entries: readonly OutboxEntry[]): Promise<void> {
    for (const e of entries) this.limiter.refund(e.jobId);
    return Promise.resolve();
  }

  released(jobId: string): void {
    this.limiter.release(jobId);
  }

  blocked(now: number): { keys: string[]; nextTokenAt: number | undefined } {
    return this.limiter.blocked(now);
  }
}

type AcquiredRow = { job_id: string; granted: boolean; key_full: boolean; key_tokens: number | null };

/**
 * Limits in the SQL database (tessera_limit_slots, tessera_limit_keys), shared by every coordinator on it:
 * `tessera_acquire_slots` takes slots and tokens under the key's row lock, the job-change trigger frees a
 * slot in the statement that decides its job (wherever that runs), and the leader's sweep frees any a race
 * left. What it keeps in memory is only a hint of which keys looked full or dry, cleared when a decision
 * is heard of or the next token is due.
 */
export class SharedLimiter implements DispatchLimiter {
  /**
   * Keys that were full at the last acquisition, until a job of theirs is decided or the hint lapses (a
   * decision this coordinator did not hear of must not leave the key looking full for good).
   */
  private readonly fullUntil = new Map<string, number>();
  /** Keys that were out of tokens, with when the next one is due. */
  private readonly dryUntil = new Map<string, number>();

  constructor(
    private readonly sql: SqlClient,
    private readonly limitsOf: LimitsOf,
  ) {}

  async acquire(entries: readonly OutboxEntry[], now: number): Promise<OutboxEntry[]> {
    const limited = entries.filter((e) => e.limitKey !== null && this.limitsOf(e.component) !== undefined);
    if (limited.length === 0) return [...entries];
    const limits = limited.map((e) => this.limitsOf(e.component) as KeyLimits);
    const res = await this.sql.query<AcquiredRow>(
      `SELECT * FROM tessera_acquire_slots($1::text[], $2::text[], $3::text[], $4::int[], $5::float8[], $6::float8[])`,
      [
        limited.map((e) => e.jobId),
        limited.map((e) => e.component),
        limited.map((e) => e.limitKey),
        limits.map((l) => l.concurrency ?? null),
        limits.map((l) => l.rate?.limit ?? null),
        limits.map((l) => l.rate?.intervalMs ?? null),
      ],
      { prepareAs: "tessera_acquire_slots" },
    );
    const granted = new Set<string>();
    const byJob = new Map(res.rows.map((r) => [r.job_id, r]));
    limited.forEach((e, i) => {
      const row = byJob.get(e.jobId);
      const key = blockedKey(e.component, e.limitKey);
      if (row === undefined) return; // decided meanwhile: nothing to publish
      if (row.granted) granted.add(e.jobId);
      if (row.key_full) this.fullUntil.set(key, now + FULL_HINT_MS);
      const rate = (limits[i] as KeyLimits).rate;
      if (rate !== undefined && row.key_tokens !== null && row.key_tokens < 1) {
        this.dryUntil.set(key, now + Math.ceil(((1 - row.key_tokens) * rate.intervalMs) / rate.limit));
      }
    });
    const asked = new Set(limited);
    return entries.filter((e) => !asked.has(e) || granted.has(e.jobId));
  }

  async refund(entries: readonly OutboxEntry[]): Promise<void> {
    const limited = entries.filter((e) => e.limitKey !== null && this.limitsOf(e.component) !== undefined);
    if (limited.length === 0) return;
    await this.sql.query(
      `WITH freed AS (
         DELETE FROM tessera_limit_slots WHERE job_id = ANY($1::text[]) RETURNING component, limit_key
       ), counted AS (
         SELECT component, limit_key, count(*) AS n FROM freed GROUP BY component, limit_key
       ), caps AS (
         SELECT DISTINCT c AS component, k AS limit_key, cap FROM unnest($2::text[], $3::text[], $4::float8[]) AS u(c, k, cap)
       )
       UPDATE tessera_limit_keys k SET tokens = least(caps.cap, k.tokens + counted.n)
         FROM counted JOIN caps USING (component, limit_key)
        WHERE k.component = counted.component AND k.limit_key = counted.limit_key AND caps.cap IS NOT NULL`,
      [
        limited.map((e) => e.jobId),
        limited.map((e) => e.component),
        limited.map((e) => e.limitKey),
        limited.map((e) => this.limitsOf(e.component)?.rate?.limit ?? null),
      ],
    );
    for (const e of limited) this.released(e.jobId, e.component, e.limitKey);
  }

  released(_jobId: string, component: string, limitKey?: string | null): void {
    if (limitKey !== undefined && limitKey !== null) {
      this.fullUntil.delete(blockedKey(component, limitKey));
      return;
    }
    const prefix = blockedKey(component, "");
    for (const key of this.fullUntil.keys()) if (key.startsWith(prefix)) this.fullUntil.delete(key);
  }

  /** Notifications may have been missed (the listening connection dropped): every hint goes. */
  forget(): void {
    this.fullUntil.clear();
    this.dryUntil.clear();
  }

  blocked(now: number): { keys: string[]; nextTokenAt: number | undefined } {
    let nextTokenAt: number | undefined;
    const keys: string[] = [];
    for (const [key, until] of this.fullUntil) {
      if (until <= now) this.fullUntil.delete(key);
      else keys.push(key);
    }
    for (const [key, at] of this.dryUntil) {
      if (at <= now) {
        this.dryUntil.delete(key);
        continue;
      }
      if (!this.fullUntil.has(key)) keys.push(key);
      nextTokenAt = nextTokenAt === undefined ? at : Math.min(nextTokenAt, at);
    }
    return { keys, nextTokenAt };
  }
}
