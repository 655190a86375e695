/**
 * Reading what a run left behind, for the audit: the store's job rows (straight from SQL) and every
 * Result stored on the bus's Results stream (an ordered consumer over the whole stream).
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { RESULTS_STREAM } from "@tessera/contract";
import pg from "pg";
import type { JobState, StoreJob } from "./audit.js";

export async function storeJobs(databaseUrl: string): Promise<StoreJob[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const res = await client.query<{
      job_id: string;
      idempotency_key: string | null;
      state: JobState;
      reason_code: string | null;
      duplicate_results: number;
      limit_key: string | null;
      updated_at: Date;
    }>(
      "SELECT job_id, idempotency_key, state, reason_code, duplicate_results, limit_key, updated_at FROM tessera_jobs ORDER BY seq",
    );
    return res.rows.map((r) => ({
      jobId: r.job_id,
      idempotencyKey: r.idempotency_key,
      state: r.state,
      reasonCode: r.reason_code,
      duplicateResults: r.duplicate_results,
      limitKey: r.limit_key,
      updatedAt: r.updated_at.getTime(),
    }));
  } finally {
    await client.end();
  }
}

/** Counts of the store's jobs by state, for progress. */
export class StoreProgress {
  private readonly pool: pg.Pool;

  constructor(databaseUrl: string) {
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: 1, connectionTimeoutMillis: 2_000 });
    this.pool.on("error", () => undefined);
  }

  /** Jobs in a terminal state, or undefined when the store cannot be read right now. */
  async decided(): Promise<number | undefined> {
    try {
      const res = await this.pool.query<{ n: string }>(
        "SELECT count(*) AS n FROM tessera_jobs WHERE state IN ('completed', 'failed', 'cancelled')",
      );
      return Number(res.rows[0]?.n ?? 0);
    } catch {
      return undefined;
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/** One stored `completed` Result, with where and when it was stored. */
export interface StoredResult {
  jobId: string;
  attempt: unknown;
  instanceId: unknown;
  finishedAt: unknown;
  streamSeq: number;
  storedAt: number;
}

/** The job id of every `completed` Result on the Results stream (one entry per stored message). */
export async function completedResultsOnBus(natsUrl: string, details?: StoredResult[]): Promise<string[]> {
  const nc = await connect({ servers: natsUrl, name: "faults-audit" });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(RESULTS_STREAM);
    const ids: string[] = [];
    if (info.state.messages === 0) return ids;
    const consumer = await jetstream(nc).consumers.get(RESULTS_STREAM);
    const messages = await consumer.consume();
    for await (const m of messages) {
      const result = m.json<{ job_id?: unknown; status?: unknown }>();
      if (result.status === "completed" && typeof result.job_id === "string") {
        ids.push(result.job_id);
        const r = result as { attempt?: unknown; instance_id?: unknown; finished_at?: unknown };
        details?.push({
          jobId: result.job_id,
          attempt: r.attempt,
          instanceId: r.instance_id,
          finishedAt: r.finished_at,
          streamSeq: m.seq,
          storedAt: Math.floor(m.info.timestampNanos / 1e6),
        });
      }
      if (m.info.pending === 0) break;
    }
    await messages.close();
    return ids;
  } finally {
    await nc.close();
  }
}
