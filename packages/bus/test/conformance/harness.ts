import type { Bus, Subscription } from "@tessera/bus";
import { afterAll, afterEach, beforeAll } from "vitest";
import type { Backend, BackendEnv } from "./backends.js";

export interface Harness {
  readonly bus: Bus;
  newBus(): Promise<Bus>;
  readonly wire: BackendEnv["wire"];
  /** Registers a subscription to be stopped after the test, whatever its outcome. */
  track<S extends Subscription>(subscription: Promise<S>): Promise<S>;
}

/** Sets the backend up once for the enclosing describe block (one nats-server per file for jetstream). */
export function useBackend(backend: Backend): Harness {
  let env: BackendEnv | undefined;
  const subs: Subscription[] = [];
  beforeAll(async () => {
    env = await backend.setup();
  });
  afterEach(async () => {
    await Promise.allSettled(subs.splice(0).map((s) => s.stop()));
  });
  afterAll(async () => {
    await env?.teardown();
  });
  const ready = (): BackendEnv => {
    if (env === undefined) throw new Error(`${backend.name}: setup did not complete`);
    return env;
  };
  return {
    get bus() {
      return ready().bus;
    },
    newBus: () => ready().newBus(),
    get wire() {
      return ready().wire;
    },
    async track(subscription) {
      const s = await subscription;
      subs.push(s);
      return s;
    },
  };
}
