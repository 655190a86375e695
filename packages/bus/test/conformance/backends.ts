import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { connectJetStreamBus, createInProcessBus, type Bus } from "@tessera/bus";
import { startNatsServer } from "@tessera/testkit";

/** What a conformance test gets: buses on one backing store. */
export interface BackendEnv {
  bus: Bus;
  /**
   * A second client on the same backing store (another process, in real life), for two-consumer and
   * durability tests. In-process there is no second connection: it is the same bus.
   */
  newBus(): Promise<Bus>;
  /**
   * Puts raw bytes on a subject, bypassing the Bus (and its validation): only a backend with a wire has
   * this. `jetstream: true` waits for the stream's ack.
   */
  wire: { publish(subject: string, data: Uint8Array, opts?: { jetstream?: boolean }): Promise<void> } | undefined;
  teardown(): Promise<void>;
}

export interface Backend {
  name: "inprocess" | "jetstream";
  /** Whether `wire` exists, known before setup so tests can be selected with `it.runIf`. */
  hasWire: boolean;
  setup(): Promise<BackendEnv>;
}

const inprocess: Backend = {
  name: "inprocess",
  hasWire: false,
  async setup() {
    const bus = createInProcessBus();
    return { bus, newBus: async () => bus, wire: undefined, teardown: () => bus.close() };
  },
};

const jetstreamBackend: Backend = {
  name: "jetstream",
  hasWire: true,
  async setup() {
    const server = await startNatsServer();
    const clients: Bus[] = [];
    let raw: NatsConnection | undefined;
    const newBus = async (): Promise<Bus> => {
      const bus = await connectJetStreamBus({ servers: server.url, name: `conformance-${clients.length}` });
      clients.push(bus);
      return bus;
    };
    const bus = await newBus();
    return {
      bus,
      newBus,
      wire: {
        async publish(subject, data, opts = {}) {
          raw ??= await connect({ servers: server.url, name: "conformance-wire" });
          if (opts.jetstream === true) await jetstream(raw).publish(subject, data);
          else {
            raw.publish(subject, data);
            await raw.flush();
          }
        },
      },
      async teardown() {
        await Promise.allSettled(clients.map((c) => c.close()));
        await raw?.close();
        await server.stop();
      },
    };
  },
};

const ALL: Backend[] = [inprocess, jetstreamBackend];
const selected = (process.env["TESSERA_CONFORMANCE_BACKENDS"] ?? "inprocess,jetstream")
  .split(",")
  .map((s) => s.trim())
  .filter((s) => s !== "");
const unknown = selected.filter((s) => !ALL.some((b) => b.name === s));
if (unknown.length > 0)
  throw new Error(
    `TESSERA_CONFORMANCE_BACKENDS: unknown backend(s) ${unknown.join(", ")}; expected a comma-separated list of inprocess, jetstream`,
  );

/**
 * Every conformance test runs once per backend, named `[inprocess] …` and `[jetstream] …`.
 * TESSERA_CONFORMANCE_BACKENDS=inprocess (or jetstream) runs one of them only.
 */
export const backends: Backend[] = ALL.filter((b) => selected.includes(b.name));
