import { createInProcessBus, type Bus } from "@tessera/bus";
import type { ComponentSpec } from "@tessera/contract";
import {
  createCoordinator,
  startAdminServer,
  type AdminServer,
  type Coordinator,
  type JobEvent,
} from "@tessera/coordinator";
import { defineComponent, runWorker, type ComponentOptions, type WorkerHandle } from "@tessera/worker";
import { pino } from "pino";

const silent = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" });
const HEARTBEAT_INTERVAL_MS = 1_000;

/** A component to register; with `worker`, a worker runs it beside the coordinator. */
export interface TestComponent {
  name: string;
  spec?: Partial<ComponentSpec>;
  worker?: Omit<ComponentOptions, "name">;
}

/** The real coordinator (in-process bus, the memory store) behind a started admin server, with workers. */
export interface RealCoordinator {
  coordinator: Coordinator;
  bus: Bus;
  admin: AdminServer;
  url: string;
  /** Job event subscriptions the admin server holds: one per open `/api/v1/events` stream. */
  subscribers(): number;
  close(): Promise<void>;
}

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

/**
 * Starts `createCoordinator` + `startAdminServer` and a worker for each component that has one, and waits
 * until every worker's first heartbeat has arrived (so `components` reports it healthy).
 */
export async function startRealCoordinator(components: readonly TestComponent[]): Promise<RealCoordinator> {
  const bus = createInProcessBus();
  const coordinator = await createCoordinator({
    bus,
    components: components.map((c) => ({ name: c.name, spec: spec(c.spec) })),
    env: {},
    logger: silent,
    heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
  });
  const workers: WorkerHandle[] = [];
  let subscribed = 0;
  // The admin server sees the coordinator through this proxy, so its event subscriptions can be counted.
  const counted = new Proxy(coordinator, {
    get(target, property) {
      if (property === "onJobEvent") {
        return (listener: (event: JobEvent) => void) => {
          subscribed += 1;
          const unsubscribe = target.onJobEvent(listener);
          let done = false;
          return () => {
            if (!done) subscribed -= 1;
            done = true;
            unsubscribe();
          };
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  let admin: AdminServer | undefined;
  try {
    for (const c of components) {
      if (c.worker !== undefined)
        workers.push(
          // The tests' handlers are closures: they run in the test's own thread.
          await runWorker(defineComponent({ isolation: "none", ...c.worker, name: c.name }), {
            bus,
            logger: silent,
            heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
            drainGraceMs: 500,
          }),
        );
    }
    admin = await startAdminServer(counted, { port: 0 });
    const withWorkers = components.filter((c) => c.worker !== undefined).map((c) => c.name);
    for (let until = Date.now() + 10_000; ;) {
      const statuses = await coordinator.components();
      if (withWorkers.every((name) => statuses.find((s) => s.name === name)?.healthyInstances === 1)) break;
      if (Date.now() > until)
        throw new Error(
          `no heartbeat from every worker within 10 s: ${JSON.stringify(statuses.map((s) => [s.name, s.summary]))}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch (err) {
    await admin?.close();
    await Promise.all(workers.map((w) => w.stop()));
    await coordinator.close();
    await bus.close();
    throw err;
  }
  const server = admin;
  return {
    coordinator,
    bus,
    admin: server,
    url: server.url,
    subscribers: () => subscribed,
    async close() {
      await server.close();
      await Promise.all(workers.map((w) => w.stop()));
      await coordinator.close();
      await bus.close();
    },
  };
}
