import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { Kvm, type KV, type KvEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { gatewayRateBucketName } from "@tessera/contract";
import type { RateLimit } from "../adapter.js";
import {
  MAX_REFILL_MS,
  MAX_RESERVE_MS,
  takeToken,
  type BucketState,
  type TakeHolder,
  type TakeResult,
  type TokenBuckets,
} from "./rate-limiter.js";

/*
 * Token buckets every sender replica shares, one key-value entry per bucket, each write a compare-and-set on
 * the entry's revision: two replicas taking from one bucket at once cannot both spend the same token, so N
 * senders together keep the rate one sender would.
 *
 * Within a process the takes of one key are batched: one compare-and-set per key is in flight at a time, and
 * the takes that arrive meanwhile go together in the next (group commit). Without it a burst on one key puts
 * every sender slot into the same compare-and-set race, each retry a round trip, and the other accounts'
 * commands wait for a free slot behind it. So a key costs two round trips to the NATS server per batch (read,
 * then write), and replicas only race each other.
 *
 * Time is each replica's own clock: a bucket's refill is as exact as the replicas' clocks agree.
 *
 * The bucket's entries expire a day after their last write (the store's own age limit), which is the idle
 * eviction: checkRateLimit refuses a limit that would not refill within that time, and MAX_RESERVE_MS bounds
 * debt, so an entry that expires was full, and a recreated one starts full.
 */

export const SHARED_RATE_BUCKET_TTL_MS = MAX_REFILL_MS + MAX_RESERVE_MS;

/**
 * How long a batch keeps retrying its compare-and-set against other replicas; past this its takes are denied
 * without a booking and ask again later.
 */
const CAS_PATIENCE_MS = 2_000;

interface PendingTake {
  limit: RateLimit;
  booking: string | undefined;
  resolve: (result: TakeResult) => void;
  reject: (err: unknown) => void;
}

export interface SharedRateLimiterOptions {
  /** Replicas of the store's stream (3 on a clustered NATS). Default 1. */
  replicas?: number;
  now?: () => number;
  random?: () => number;
}

/**
 * The store's keys: `b…` a bucket, `h…` a holder's booking. base64url is injective and uses only characters a
 * key may hold.
 */
export function sharedBucketKey(kind: "bucket" | "booking", key: string): string {
  return `${kind === "bucket" ? "b" : "h"}${Buffer.from(key, "utf8").toString("base64url")}`;
}

function decodeState(entry: KvEntry | null): BucketState | undefined {
  if (entry === null || entry.operation !== "PUT") return undefined;
  const finite = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);
  try {
    const { tokens, atMs, limit } = entry.json<{ tokens?: unknown; atMs?: unknown; limit?: Record<string, unknown> }>();
    const perSecond = limit?.["perSecond"];
    const burst = limit?.["burst"];
    if (finite(tokens) && finite(atMs) && finite(perSecond) && perSecond > 0 && finite(burst))
      return { tokens, atMs, limit: { perSecond, burst } };
  } catch {
    // Not ours or damaged: the bucket starts over, full.
  }
  return undefined;
}

function isConflict(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

export class SharedRateLimiter implements TokenBuckets {
  /** Takes waiting per store key while that key's batch is in flight. */
  private readonly queues = new Map<string, PendingTake[]>();

  private constructor(
    private readonly kv: KV,
    private readonly now: () => number,
    private readonly random: () => number,
  ) {}

  /** Opens the shared store, creating it the first time (any replica may; they agree on its config). */
  static async open(nats: NatsConnection, options: SharedRateLimiterOptions = {}): Promise<SharedRateLimiter> {
    const kv = await new Kvm(nats).create(gatewayRateBucketName(), {
      history: 1,
      ttl: SHARED_RATE_BUCKET_TTL_MS,
      replicas: options.replicas ?? 1,
    });
    return new SharedRateLimiter(kv, options.now ?? (() => Date.now()), options.random ?? Math.random);
  }

  async take(key: string, limit: RateLimit, holder?: TakeHolder): Promise<TakeResult> {
    const booking = holder === undefined ? undefined : sharedBucketKey("booking", holder.id);
    if (booking !== undefined && holder?.returning === true && (await this.spendBooking(booking))) return { ok: true };
    return new Promise<TakeResult>((resolve, reject) => {
      const k = sharedBucketKey("bucket", key);
      const queue = this.queues.get(k);
      const take = { limit, booking, resolve, reject };
      if (queue !== undefined) queue.push(take);
      else {
        this.queues.set(k, [take]);
        void this.drain(k);
      }
    });
  }

  /** Serves a key's takes, a batch per compare-and-set, until none is waiting. */
  private async drain(k: string): Promise<void> {
    const queue = this.queues.get(k) as PendingTake[];
    while (queue.length > 0) {
      const batch = queue.splice(0);
      try {
        const results = await this.takeBatch(k, batch);
        batch.forEach((t, i) => t.resolve(results[i] as TakeResult));
      } catch (err) {
        for (const t of batch) t.reject(err);
      }
    }
    this.queues.delete(k);
  }

  private async takeBatch(k: string, batch: PendingTake[]): Promise<TakeResult[]> {
    const giveUpAt = performance.now() + CAS_PATIENCE_MS;
    while (performance.now() < giveUpAt) {
      const entry = await this.kv.get(k);
      let state = decodeState(entry);
      const results: TakeResult[] = [];
      let changed = false;
      const now = this.now();
      for (const t of batch) {
        const { next, result } = takeToken(state, t.limit, now);
        state = next;
        results.push(result);
        // A take that reserved nothing changed nothing worth writing.
        changed ||= result.ok || result.reserved;
      }
      if (!changed) return results;
      const value = JSON.stringify(state);
      try {
        if (entry === null) await this.kv.create(k, value);
        else await this.kv.update(k, value, entry.revision);
      } catch (err) {
        if (!isConflict(err)) throw err;
        // Another replica wrote first; a moment's random pause keeps the two from colliding again in lockstep.
        await new Promise((r) => setTimeout(r, this.random() * 2));
        continue;
      }
      // Lost in a crash before these writes, a booking only makes its holder pay twice: slower, never faster.
      await Promise.all(
        batch.map((t, i) => {
          const r = results[i] as TakeResult;
          return !r.ok && r.reserved && t.booking !== undefined ? this.kv.put(t.booking, "1") : undefined;
        }),
      );
      return results;
    }
    // Every attempt lost to another replica: the bucket is that busy, so waiting a little is the right answer.
    return batch.map((t) => ({
      ok: false,
      waitMs: Math.ceil((1 + this.random()) * (1000 / t.limit.perSecond)),
      reserved: false,
    }));
  }

  /** Spends the holder's booking if it has one (one sender holds a command at a time, so no race to spend it). */
  private async spendBooking(booking: string): Promise<boolean> {
    const entry = await this.kv.get(booking);
    if (entry === null || entry.operation !== "PUT") return false;
    await this.kv.purge(booking);
    return true;
  }
}
