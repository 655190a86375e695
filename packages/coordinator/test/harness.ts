import { createInProcessBus, type Bus } from "@tessera/bus";
import type { ComponentSpec } from "@tessera/contract";
import { defineComponent, runWorker, type ComponentOptions, type WorkerHandle } from "@tessera/worker";
import { pino } from "pino";
import { createCoordinator, type CoordinatorOptions } from "../src/create-coordinator.js";
import type { DatabaseOption } from "../src/store/open-storage.js";
import type { ComponentRegistration, Coordinator } from "../src/types.js";

export const silent = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" });

export function spec(overrides: Partial<ComponentSpec> = {}): ComponentSpec {
  return {
    image: "example/test:1",
    inputMode: "content-ref",
    egress: "none",
    timeouts: { wallClock: "10s", ackWait: "5s" },
    maxDeliver: 3,
    ...overrides,
  };
}

export interface Embedded {
  bus: Bus;
  coordinator: Coordinator;
  workers: WorkerHandle[];
  run(component: Omit<ComponentOptions, "name"> & { name: string }): Promise<WorkerHandle>;
  close(): Promise<void>;
}

/** A coordinator on the in-process bus and the given store, with workers run beside it. */
export async function embedded(
  database: DatabaseOption,
  components: ComponentRegistration[],
  extra: Partial<Omit<CoordinatorOptions, "bus" | "components" | "database">> & { bus?: Bus } = {},
): Promise<Embedded> {
  const bus = extra.bus ?? createInProcessBus();
  const coordinator = await createCoordinator({ env: {}, logger: silent, ...extra, bus, components, database });
  const workers: WorkerHandle[] = [];
  return {
    bus,
    coordinator,
    workers,
    async run(options) {
      // The tests' handlers are closures over their state: they run in the test's own thread.
      const worker = await runWorker(defineComponent({ isolation: "none", ...options }), {
        bus,
        logger: silent,
        heartbeatIntervalMs: 200,
      });
      workers.push(worker);
      return worker;
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop()));
      await coordinator.close();
      if (extra.bus === undefined) await bus.close();
    },
  };
}
