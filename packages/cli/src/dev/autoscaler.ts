import { kedaDesiredReplicas } from "./keda-formula.js";
import type { WorkerPool } from "./worker-pool.js";

/** A component's scaling settings (its spec's `scaling`, with cooldownPeriod in ms). */
export interface AutoscaledComponent {
  name: string;
  minReplicas: number;
  maxReplicas: number;
  queueDepthTarget: number;
  cooldownMs: number;
  /** Lag at or below which the component counts as idle. Default 0. */
  activationLag?: number;
}

export interface AutoscalerOptions {
  components: readonly AutoscaledComponent[];
  /** The component's lag: the bus's queueDepth total (pending + ack-pending), what KEDA reads. */
  queueDepth: (component: string) => Promise<number>;
  pool: WorkerPool;
  /** Pause between the end of one evaluation and the start of the next (KEDA's pollingInterval). Default 1 s. */
  intervalMs?: number;
  onScale?: (event: ScaleEvent) => void;
  /** Reading the lag or scaling failed; the component keeps its replicas until a later evaluation succeeds. */
  onError?: (component: string, error: Error) => void;
}

export interface ScaleEvent {
  component: string;
  from: number;
  to: number;
  lag: number;
  active: boolean;
}

export interface ComponentScaleStatus {
  /** Workers running now (not counting those draining). */
  replicas: number;
  /** The last evaluation's decision; undefined before the first. */
  desired: number | undefined;
  /** The last lag read; undefined before the first. */
  lag: number | undefined;
  active: boolean;
  /** Why the last evaluation failed, if it did. */
  error?: string;
}

export interface Autoscaler {
  /** Evaluates now, then every `intervalMs` after the previous evaluation ends. */
  start(): void;
  /** Stops the loop; resolves after a running evaluation finishes. Leaves the workers as they are. */
  stop(): Promise<void>;
  /** Evaluates every component once now; joins the running evaluation instead of overlapping it. */
  tick(): Promise<void>;
  status(): Record<string, ComponentScaleStatus>;
}

interface State {
  lag: number | undefined;
  desired: number | undefined;
  active: boolean;
  lastActiveAt: number | undefined;
  error: string | undefined;
}

/**
 * The local stand-in for KEDA in `tessera dev` process mode: polls each component's lag and sets its
 * worker count with the formula KEDA and its HPA apply in the cluster (see keda-formula.ts).
 */
export function createAutoscaler(opts: AutoscalerOptions): Autoscaler {
  const intervalMs = opts.intervalMs ?? 1_000;
  if (!(Number.isFinite(intervalMs) && intervalMs > 0))
    throw new RangeError(`createAutoscaler: intervalMs: expected a number above 0, got ${String(intervalMs)}`);
  opts.components.forEach(checkSettings);
  const states = new Map<string, State>(
    opts.components.map((c) => [
      c.name,
      { lag: undefined, desired: undefined, active: false, lastActiveAt: undefined, error: undefined },
    ]),
  );
  if (states.size !== opts.components.length)
    throw new Error("createAutoscaler: components: each component may appear once");

  const fail = (component: string, state: State, err: unknown): void => {
    const error = err instanceof Error ? err : new Error(String(err));
    state.error = error.message;
    opts.onError?.(component, error);
  };

  const evaluate = async (): Promise<void> => {
    // Lag reads go out together: one slow component does not delay the others' decisions.
    const reads = await Promise.allSettled(
      opts.components.map(async (c) => readLag(c.name, await opts.queueDepth(c.name))),
    );
    const now = Date.now();
    opts.components.forEach((c, i) => {
      const state = states.get(c.name) as State;
      const read = reads[i] as PromiseSettledResult<number>;
      if (read.status === "rejected") return fail(c.name, state, read.reason);
      try {
        const current = opts.pool.replicas(c.name);
        const decision = kedaDesiredReplicas({
          ...c,
          lag: read.value,
          currentReplicas: current,
          lastActiveAt: state.lastActiveAt,
          now,
        });
        Object.assign(state, {
          lag: read.value,
          desired: decision.desired,
          active: decision.active,
          lastActiveAt: decision.lastActiveAt,
          error: undefined,
        });
        if (decision.desired !== current) {
          opts.pool.scale(c.name, decision.desired);
          opts.onScale?.({
            component: c.name,
            from: current,
            to: decision.desired,
            lag: read.value,
            active: decision.active,
          });
        }
      } catch (err) {
        fail(c.name, state, err);
      }
    });
  };

  let running: Promise<void> | undefined;
  const tick = (): Promise<void> =>
    (running ??= evaluate().finally(() => {
      running = undefined;
    }));

  let loop: { timer: NodeJS.Timeout | undefined } | undefined;
  const runLoop = (current: NonNullable<typeof loop>): void => {
    // Only an onError that throws gets here; the loop goes on regardless.
    void tick()
      .catch(() => undefined)
      .then(() => {
        if (loop === current) current.timer = setTimeout(() => runLoop(current), intervalMs);
      });
  };

  return {
    start() {
      if (loop !== undefined) return;
      loop = { timer: undefined };
      runLoop(loop);
    },
    async stop() {
      clearTimeout(loop?.timer);
      loop = undefined;
      await running?.catch(() => undefined);
    },
    tick,
    status() {
      return Object.fromEntries(
        opts.components.map((c) => {
          const { lag, desired, active, error } = states.get(c.name) as State;
          return [
            c.name,
            { replicas: opts.pool.replicas(c.name), desired, lag, active, ...(error !== undefined ? { error } : {}) },
          ];
        }),
      );
    },
  };
}

function readLag(component: string, lag: number): number {
  if (!(Number.isInteger(lag) && lag >= 0))
    throw new TypeError(`queueDepth(${JSON.stringify(component)}) returned ${String(lag)}: expected an integer >= 0`);
  return lag;
}

function checkSettings(c: AutoscaledComponent): void {
  const where = `createAutoscaler: component ${JSON.stringify(c.name)}`;
  const isInt = (n: number, min: number): boolean => Number.isInteger(n) && n >= min;
  if (!isInt(c.minReplicas, 0))
    throw new RangeError(`${where}: minReplicas: expected an integer >= 0, got ${String(c.minReplicas)}`);
  if (!isInt(c.maxReplicas, 1))
    throw new RangeError(`${where}: maxReplicas: expected an integer >= 1, got ${String(c.maxReplicas)}`);
  if (c.minReplicas > c.maxReplicas)
    throw new RangeError(`${where}: minReplicas (${c.minReplicas}) is above maxReplicas (${c.maxReplicas})`);
  if (!(c.queueDepthTarget > 0))
    throw new RangeError(`${where}: queueDepthTarget: expected a number above 0, got ${String(c.queueDepthTarget)}`);
  if (!(c.cooldownMs >= 0))
    throw new RangeError(`${where}: cooldownMs: expected a number >= 0, got ${String(c.cooldownMs)}`);
  if (c.activationLag !== undefined && !(c.activationLag >= 0))
    throw new RangeError(`${where}: activationLag: expected a number >= 0, got ${String(c.activationLag)}`);
}
