import { connectJetStreamBus, createInProcessBus, type Bus } from "@tessera/bus";
import { SCHEMA_VERSION, type Job } from "@tessera/contract";
import { startNatsServer } from "@tessera/testkit";

export interface BackendUnderTest {
  bus: Bus;
  /** A second client on the same backing store (another process, in real life). */
  newClient(): Promise<Bus>;
  teardown(): Promise<void>;
}

export interface Backend {
  name: "inprocess" | "jetstream";
  setup(): Promise<BackendUnderTest>;
}

const inprocess: Backend = {
  name: "inprocess",
  async setup() {
    const bus = createInProcessBus();
    // One process, one bus: a "second client" is the same instance.
    return { bus, newClient: async () => bus, teardown: () => bus.close() };
  },
};

const jetstream: Backend = {
  name: "jetstream",
  async setup() {
    const server = await startNatsServer();
    const clients: Bus[] = [];
    const newClient = async (): Promise<Bus> => {
      const c = await connectJetStreamBus({ servers: server.url, name: `conformance-${clients.length}` });
      clients.push(c);
      return c;
    };
    const bus = await newClient();
    return {
      bus,
      newClient,
      teardown: async () => {
        for (const c of clients) await c.close();
        await server.stop();
      },
    };
  },
};

const wanted = (process.env["TESSERA_CONFORMANCE_BACKENDS"] ?? "inprocess,jetstream").split(",");
/** Every conformance test runs once per backend, named `[inprocess] …` and `[jetstream] …`. */
export const backends: Backend[] = [inprocess, jetstream].filter((b) => wanted.includes(b.name));

let counter = 0;
/** A fresh component name per test so tests never see each other's messages. */
export function uniqueComponent(prefix = "c"): string {
  counter++;
  return `${prefix}-${process.pid}-${counter}`;
}

export function makeJob(component: string, overrides: Partial<Job> = {}): Job {
  counter++;
  return {
    schema_version: SCHEMA_VERSION,
    job_id: `job-${process.pid}-${counter}`,
    component,
    content_type: "application/json",
    limits: { max_bytes: 1024 * 1024, wall_clock: 10_000 },
    input: { inline: { n: counter } },
    ...overrides,
  };
}

export const settings = (name: string, over: { ackWaitMs?: number; maxDeliver?: number; duplicateWindowMs?: number } = {}) => ({
  name,
  ackWaitMs: over.ackWaitMs ?? 2_000,
  maxDeliver: over.maxDeliver ?? 5,
  duplicateWindowMs: over.duplicateWindowMs ?? 60_000,
});
