/**
 * The chaos schedule: a seeded, pure plan of what to kill and when. "When" is a point in the run's
 * progress (0 = nothing submitted, 1 = every job submitted and decided), not a wall-clock time, so one
 * seed means the same plan on a fast and a slow machine.
 */

/** mulberry32: a small, fast, seedable PRNG. Returns a function giving floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * What gets killed (always SIGKILL):
 * - `worker`: a random worker process at a random moment;
 * - `midHandler`: a worker process from inside its handler, before or after its side effect (the job has
 *   started and has no Result);
 * - `coordinator`: the coordinator process at a random moment;
 * - `commitBeforePublish`: the coordinator, after the job and its outbox row are committed and before the
 *   relay's publish reaches the bus;
 * - `publishBeforeMark`: the coordinator, after the bus stored the job and before the relay deletes the
 *   outbox row (so the restarted relay publishes it again);
 * - `nats`: nats-server, restarted after `downMs` on the same port and store directory;
 * - `leaseHolder`: the coordinator holding the maintenance lease (with replicas: the one running retention
 *   and the slot sweep), at a random moment;
 * - `rollingRestart` (not a SIGKILL): every coordinator in turn stopped with SIGTERM and started again, the
 *   next one only once the previous is ready, as a rolling update does.
 *
 * With several coordinators, `coordinator` kills one of them (slot `worker`, modulo their number), and the
 * relay's kill points take whichever coordinator passes them first.
 */
export const KILL_KINDS = [
  "worker",
  "midHandler",
  "coordinator",
  "commitBeforePublish",
  "publishBeforeMark",
  "nats",
  "leaseHolder",
  "rollingRestart",
] as const;
export type KillKind = (typeof KILL_KINDS)[number];
export type KillCounts = Record<KillKind, number>;

export type MidHandlerPoint = "before-effect" | "after-effect";

export interface KillEvent {
  kind: KillKind;
  /** Progress in [0, 1) at which the event fires. */
  at: number;
  /** `worker`: which worker slot (modulo the number of workers). */
  worker?: number;
  /** `midHandler`: where in the handler the worker dies. */
  point?: MidHandlerPoint;
  /** `nats`: how long the server stays down; `coordinator`/`worker`: how long before the process is restarted. */
  downMs: number;
}

export interface ScheduleOptions {
  seed: number;
  kills: KillCounts;
  /** Progress window of the events that need submits in flight (the relay's kill points). Default [0.03, 0.45]. */
  submitWindow?: readonly [number, number];
  /** Progress window of every other event. Default [0.03, 0.9]. */
  window?: readonly [number, number];
  /** Restart delay range of killed processes (ms). Default [0, 500]. */
  restartDelayMs?: readonly [number, number];
  /** Downtime range of nats-server (ms). Default [200, 3000]. */
  natsDownMs?: readonly [number, number];
}

export function emptyKillCounts(): KillCounts {
  return {
    worker: 0,
    midHandler: 0,
    coordinator: 0,
    commitBeforePublish: 0,
    publishBeforeMark: 0,
    nats: 0,
    leaseHolder: 0,
    rollingRestart: 0,
  };
}

/**
 * The kill events for a run, sorted by `at`. Every count in `kills` becomes exactly that many events.
 * The relay's kill points fire only while jobs are being submitted (in the drain phase the relay has
 * nothing to publish), and the events of one run are spread evenly at random over their windows.
 */
export function planChaos(opts: ScheduleOptions): KillEvent[] {
  const random = prng(opts.seed);
  const between = (lo: number, hi: number): number => lo + random() * (hi - lo);
  const [sLo, sHi] = opts.submitWindow ?? [0.03, 0.45];
  const [wLo, wHi] = opts.window ?? [0.03, 0.9];
  const [rLo, rHi] = opts.restartDelayMs ?? [0, 500];
  const [nLo, nHi] = opts.natsDownMs ?? [200, 3_000];
  for (const [name, lo, hi] of [
    ["submitWindow", sLo, sHi],
    ["window", wLo, wHi],
  ] as const) {
    if (!(lo >= 0 && hi <= 1 && lo < hi))
      throw new RangeError(`planChaos: ${name}: expected 0 <= lo < hi <= 1, got [${lo}, ${hi}]`);
  }
  const events: KillEvent[] = [];
  for (const kind of KILL_KINDS) {
    const n = opts.kills[kind];
    if (!Number.isInteger(n) || n < 0)
      throw new RangeError(`planChaos: kills.${kind}: expected an integer >= 0, got ${n}`);
    const duringSubmits = kind === "commitBeforePublish" || kind === "publishBeforeMark";
    const [lo, hi] = duringSubmits ? [sLo, sHi] : [wLo, wHi];
    for (let i = 0; i < n; i++) {
      // Stratified: the i-th event of a kind falls in the i-th of n equal slices of its window.
      const slice = (hi - lo) / n;
      const event: KillEvent = {
        kind,
        at: lo + slice * i + random() * slice,
        downMs: Math.round(kind === "nats" ? between(nLo, nHi) : between(rLo, rHi)),
      };
      if (kind === "worker" || kind === "midHandler" || kind === "coordinator")
        event.worker = Math.floor(random() * 1_000);
      if (kind === "midHandler") event.point = random() < 0.5 ? "before-effect" : "after-effect";
      events.push(event);
    }
  }
  return events.sort((a, b) => a.at - b.at);
}

/** Each kind's number of events. */
export function countKills(events: readonly Pick<KillEvent, "kind">[]): KillCounts {
  const counts = emptyKillCounts();
  for (const e of events) counts[e.kind] += 1;
  return counts;
}
