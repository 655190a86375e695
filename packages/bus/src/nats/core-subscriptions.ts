import type { NatsConnection } from "@nats-io/transport-node";
import { COORDINATOR_PROBE_SUBJECT, HEARTBEAT_SUBJECT_ALL, decodeHeartbeat } from "@tessera/contract";
import type { CoordinatorMembership, CoordinatorPresence, HeartbeatEvent, Subscription } from "../bus.js";
import { COORDINATOR_PROBE_WAIT_MS, parsePresence } from "../coordinator-presence.js";
import { isNoResponders } from "./nats-errors.js";

/** The bus's core-NATS subscriptions (no stream behind them), stopped when the bus closes. */
export type CoreSubscriptions = Set<{ stop(): Promise<void> }>;

const encodePresence = (p: CoordinatorPresence): Uint8Array => new TextEncoder().encode(JSON.stringify(p));

/**
 * Announces `self` to the other coordinators on the probe subject and collects the presences that answer
 * within `waitMs`; `self` keeps answering later probes until `leave()`.
 */
export async function joinCoordinators(
  nc: NatsConnection,
  subs: CoreSubscriptions,
  self: CoordinatorPresence,
  waitMs = COORDINATOR_PROBE_WAIT_MS,
): Promise<CoordinatorMembership> {
  // Answering first: two coordinators starting together then each see the other.
  const responder = nc.subscribe(COORDINATOR_PROBE_SUBJECT, {
    callback: (err, msg) => {
      if (err === null) msg.respond(encodePresence(self));
    },
  });
  await nc.flush();
  const peers: CoordinatorPresence[] = [];
  try {
    const answers = await nc.requestMany(COORDINATOR_PROBE_SUBJECT, encodePresence(self), {
      strategy: "timer",
      maxWait: waitMs,
    });
    for await (const answer of answers) {
      const peer = parsePresence(answer.data);
      if (peer !== undefined && peer.id !== self.id) peers.push(peer);
    }
  } catch (err) {
    if (!isNoResponders(err)) {
      responder.unsubscribe();
      throw err;
    }
  }
  const handle = {
    stop: async (): Promise<void> => {
      subs.delete(handle);
      if (!responder.isClosed()) responder.unsubscribe();
    },
  };
  subs.add(handle);
  return { peers, leave: () => handle.stop() };
}

/** Every component's heartbeats (fire and forget), resolved once the server knows the subscription. */
export async function subscribeHeartbeats(
  nc: NatsConnection,
  subs: CoreSubscriptions,
  handler: (event: HeartbeatEvent) => void,
): Promise<Subscription> {
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const sub = nc.subscribe(HEARTBEAT_SUBJECT_ALL, {
    callback: (err, msg) => {
      if (err !== null) return;
      const decoded = decodeHeartbeat(msg.data);
      try {
        handler(
          decoded.ok
            ? { kind: "heartbeat", heartbeat: decoded.value }
            : { kind: "invalid", subject: msg.subject, error: decoded.error },
        );
      } catch {
        // fire-and-forget: a throwing handler loses only this beat
      }
    },
  });
  void sub.closed.then(resolveClosed, resolveClosed);
  // Resolve only once the server knows the subscription, so beats published right after are not lost.
  await nc.flush();
  const handle = {
    closed,
    stop: async (): Promise<void> => {
      subs.delete(handle);
      if (!sub.isClosed()) sub.unsubscribe();
      resolveClosed();
      await closed;
    },
  };
  subs.add(handle);
  return handle;
}
