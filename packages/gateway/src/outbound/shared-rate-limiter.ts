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
 * Token buckets every sender replica shares, one key-value entry per bucket, each take a compare-and-set on
 * the entry's revision: two replicas taking from one bucket at once cannot both spend the same token, so N
 * senders together keep the rate one sender would. The price is two round trips to the NATS server per send
 * (read, then write), small beside the platform call it guards.
 *
 * Time is each replica's own clock: a bucket's refill is as exact as the replicas' clocks agree (NTP keeps
 * them within milliseconds; a tenth of a token at 100 per second).
 *
 * The bucket's entries expire a day after their last write (the store's own age limit), which is the idle
 * eviction: checkRateLimit refuses a limit that would not refill within that time, and MAX_RESERVE_MS bounds
 * debt, so an entry that expires was full, and a recreated one starts full.
 */

export const SHARED_RATE_BUCKET_TTL_MS = MAX_REFILL_MS + MAX_RESERVE_MS;

/**
 * How long a take keeps retrying its compare-and-set. Each conflict means another take won (takes on one key are
 * served one at a time), so a burst of concurrent takes needs as many rounds as it has takes; past this the take
 * is denied without a booking and asks again later.
 */
const CAS_PATIENCE_MS = 2_000;

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
    const k = sharedBucketKey("bucket", key);
    const giveUpAt = performance.now() + CAS_PATIENCE_MS;
    while (performance.now() < giveUpAt) {
      const entry = await this.kv.get(k);
      const state = decodeState(entry);
      const { next, result } = takeToken(state, limit, this.now());
      // A take that reserved nothing changed nothing worth writing.
      if (!result.ok && !result.reserved) return result;
      const value = JSON.stringify(next);
      try {
        if (entry === null) await this.kv.create(k, value);
        else await this.kv.update(k, value, entry.revision);
      } catch (err) {
        if (!isConflict(err)) throw err;
        // A moment's random pause keeps the losers from colliding again in lockstep.
        await new Promise((r) => setTimeout(r, this.random() * 2));
        continue;
      }
      // Lost in a crash before this write, the booking only makes its holder pay twice: slower, never faster.
      if (!result.ok && booking !== undefined) await this.kv.put(booking, "1");
      return result;
    }
    // Every attempt lost to another replica: the bucket is that busy, so waiting a little is the right answer.
    return { ok: false, waitMs: Math.ceil((1 + this.random()) * (1000 / limit.perSecond)), reserved: false };
  }

  /** Spends the holder's booking if it has one (one sender holds a command at a time, so no race to spend it). */
  private async spendBooking(booking: string): Promise<boolean> {
    const entry = await this.kv.get(booking);
    if (entry === null || entry.operation !== "PUT") return false;
    await this.kv.purge(booking);
    return true;
  }
}
