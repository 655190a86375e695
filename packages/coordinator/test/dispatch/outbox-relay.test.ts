import { createInProcessBus, type Bus, type PublishAck } from "@tessera/bus";
import { SCHEMA_VERSION, type Job } from "@tessera/contract";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LocalLimiter } from "../../src/dispatch/dispatch-limiter.js";
import { OutboxRelay } from "../../src/dispatch/outbox-relay.js";
import type { Dispatched, DispatchRecord } from "../../src/store/job-storage.js";
import { MemoryJobStore } from "../../src/store/memory-job-store.js";
import { silent } from "../harness.js";

const COMPONENT = "echo";
/** The relay's MAX_FRESH: how many submitted jobs it holds in memory. */
const HELD = 10_000;
const BATCH = 256;

function envelope(n: number): Job {
  return {
    schema_version: SCHEMA_VERSION,
    job_id: `job-${String(n).padStart(6, "0")}`,
    component: COMPONENT,
    content_type: "text/plain",
    limits: { max_bytes: 1024, wall_clock: 1000 },
    input: { inline: `n${n}` },
  };
}

describe("OutboxRelay", () => {
  const open: Bus[] = [];
  afterEach(async () => {
    for (const bus of open.splice(0)) await bus.close();
  });

  async function setup(store = new MemoryJobStore()) {
    const bus = createInProcessBus();
    open.push(bus);
    await bus.ensureComponent({ name: COMPONENT, ackWaitMs: 5_000, maxDeliver: 3, duplicateWindowMs: 60_000 });
    const published: string[] = [];
    const recording: Bus = new Proxy(bus, {
      get(target, prop) {
        if (prop === "publishJob") {
          return (job: Job, opts: Parameters<Bus["publishJob"]>[1]): Promise<PublishAck> => {
            published.push(job.job_id);
            return target.publishJob(job, opts);
          };
        }
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const relay = new OutboxRelay({
      store,
      bus: recording,
      limiter: new LocalLimiter(() => undefined),
      log: silent,
      batchSize: () => BATCH,
      fair: () => false,
      components: [COMPONENT],
      // Only the passes this test makes, and no read just because time passed.
      pollIntervalMs: () => 3_600_000,
      onDispatched: () => undefined,
    });
    let submitted = 0;
    const submit = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        const job = envelope(++submitted);
        const json = JSON.stringify(job);
        const { outboxId } = await store.insertJob({
          envelope: job,
          envelopeJson: json,
          limitKey: null,
          idempotencyKey: null,
        });
        relay.offer({
          id: outboxId as number,
          jobId: job.job_id,
          component: COMPONENT,
          limitKey: null,
          dedupKey: job.job_id,
          envelope: job,
          encoded: new TextEncoder().encode(json),
        });
      }
    };
    return {
      relay,
      published,
      submit,
      submittedIds: () => Array.from({ length: submitted }, (_, i) => envelope(i + 1).job_id),
    };
  }

  it("publishes oldest first when submits overflow what it holds, and keeps later submits behind the overflow", async () => {
    const { relay, published, submit, submittedIds } = await setup();
    await relay.relayOnce(); // the first pass reads the (empty) outbox: nothing owed yet
    await submit(HELD + 700); // the last 700 only the outbox has
    await relay.relayOnce();
    await submit(300); // while the outbox still owes older jobs: these wait behind them
    for (let pass = 0; pass < 200 && published.length < HELD + 1_000; pass++) await relay.relayOnce();
    expect(published).toEqual(submittedIds());
    // Caught up: a new submit is held in memory again, and goes out without an outbox read.
    await submit(1);
    const reads = countReads(relay);
    await relay.relayOnce();
    expect(published.at(-1)).toBe(envelope(HELD + 1_001).job_id);
    expect(reads()).toBe(0); // the read that came back short, a pass before, ended the overflow
    await relay.stop();
  });

  it("records everything published during a record in the next one, instead of a record per pass", async () => {
    const store = new MemoryJobStore();
    let release!: () => void;
    const sizes = recordSizes(store, new Promise<void>((r) => (release = r)));
    const { relay, published, submit } = await setup(store);
    await submit(5 * BATCH);
    await relay.relayOnce();
    await vi.waitFor(() => expect(sizes).toEqual([BATCH])); // once its linger is over
    for (let pass = 0; pass < 4; pass++) await relay.relayOnce();
    expect(published.length).toBe(5 * BATCH);
    expect(sizes).toEqual([BATCH]); // the first record is still running; the other four passes wait for the next
    release();
    await relay.stop();
    expect(sizes).toEqual([BATCH, 1_000, 4 * BATCH - 1_000]); // at most 1,000 jobs a record
    expect((await store.countsByComponent()).get(COMPONENT)).toMatchObject({ pending: 0, queued: 5 * BATCH });
  });

  it("lets a record wait a moment for more publishes to join it, but not past a stop", async () => {
    const store = new MemoryJobStore();
    const sizes = recordSizes(store);
    const { relay, submit } = await setup(store);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      for (let pass = 0; pass < 3; pass++) {
        await submit(1);
        await relay.relayOnce();
      }
      await vi.advanceTimersByTimeAsync(19);
      expect(sizes).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(sizes).toEqual([3]);
      await submit(1);
      await relay.relayOnce();
      await relay.stop(); // with the timer never advanced: the stop ends the linger
      expect(sizes).toEqual([3, 1]);
      expect((await store.countsByComponent()).get(COMPONENT)).toMatchObject({ pending: 0, queued: 4 });
    } finally {
      vi.useRealTimers();
    }
  });

  it("does not let a record wait once a full one (1,000 publishes) is waiting", async () => {
    const store = new MemoryJobStore();
    const sizes = recordSizes(store);
    const { relay, submit } = await setup(store);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      await submit(4 * BATCH);
      for (let pass = 0; pass < 4; pass++) await relay.relayOnce();
      await vi.advanceTimersByTimeAsync(0);
      expect(sizes).toEqual([1_000]); // the rest waits for company
      await relay.stop();
      expect(sizes).toEqual([1_000, 4 * BATCH - 1_000]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("waits for the records once 4,096 publishes are unrecorded, instead of running further ahead of them", async () => {
    const store = new MemoryJobStore();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const markDispatched = store.markDispatched.bind(store);
    store.markDispatched = async (entries: readonly Dispatched[]): Promise<DispatchRecord> => {
      await held;
      return markDispatched(entries);
    };
    const { relay, published, submit } = await setup(store);
    await submit(6_000);
    for (let pass = 0; pass < 16; pass++) await relay.relayOnce(); // 16 × 256 = 4,096 published, none recorded
    expect(published.length).toBe(4_096);
    const next = relay.relayOnce();
    await new Promise((r) => setTimeout(r, 50));
    expect(published.length).toBe(4_096);
    release();
    await next;
    expect(published.length).toBe(4_096 + BATCH);
    await relay.stop();
  });
});

/** The size of each dispatch record the store is asked for from now on; each is held until `hold` settles. */
function recordSizes(store: MemoryJobStore, hold: Promise<void> = Promise.resolve()): number[] {
  const markDispatched = store.markDispatched.bind(store);
  const sizes: number[] = [];
  store.markDispatched = async (entries: readonly Dispatched[]): Promise<DispatchRecord> => {
    sizes.push(entries.length);
    await hold;
    return markDispatched(entries);
  };
  return sizes;
}

/** How many outbox reads the relay makes from now on. */
function countReads(relay: OutboxRelay): () => number {
  const store = (relay as unknown as { opts: { store: MemoryJobStore } }).opts.store;
  const read = store.nextOutboxBatch.bind(store);
  let reads = 0;
  store.nextOutboxBatch = (...args: Parameters<MemoryJobStore["nextOutboxBatch"]>) => {
    reads += 1;
    return read(...args);
  };
  return () => reads;
}
