import * as k8s from "@kubernetes/client-node";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "../crd/index.js";
import type { RenderContext } from "../render/context.js";
import { COMPONENT_NAME_LABEL } from "../render/labels.js";
import { isStatus, type ComponentObject, type KubeAccess } from "./kube-access.js";
import { startLeaderElection, type LeaderElectionOptions, type LeaderElector } from "./leader-election.js";
import { inReconcileSpan } from "./reconcile-span.js";
import { NotLeaderError, reconcileComponent, type ReconcileCounters, type StreamProvisioner } from "./reconciler.js";
import { WorkQueue } from "./work-queue.js";
import { ControllerMetrics } from "../metrics/controller-metrics.js";

export interface ControllerOptions {
  kube: KubeAccess;
  streams: StreamProvisioner;
  render: RenderContext;
  /** Components reconciled at once. Default 4. */
  concurrency?: number;
  /** Every Component is reconciled again this often, events or not (level-based safety net). Default 5 min. */
  resyncMs?: number;
  /** No watch event (not even a bookmark) for this long: the watch is presumed dead and re-listed. Default 2 min. */
  watchdogMs?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /**
   * Run as one of several replicas: only the holder of this Lease reconciles (the others list and watch, so
   * they are ready to take over). Omitted: this controller always reconciles (one replica, or a test).
   */
  leaderElection?: LeaderElectionOptions;
}

export interface Controller {
  readonly counters: ReconcileCounters;
  /** Reconciles, work queue and reachability, for a /metrics endpoint. */
  readonly metrics: ControllerMetrics;
  /** Listed once and every key reconciled at least once since. */
  readonly synced: Promise<void>;
  /** Ready = the first list done, the latest list succeeded, and NATS reachable. */
  ready(): boolean;
  /** Holds the lease (always true without leader election): only the leader reconciles. */
  isLeader(): boolean;
  /** Enqueues every known Component now (what the periodic resync does). */
  resync(): Promise<void>;
  /** Resolves when no reconcile is queued or running. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

const MAX_WATCH_BACKOFF_MS = 30_000;
const COMPONENTS_PATH = `/apis/${COMPONENT_GROUP}/${COMPONENT_VERSION}/${COMPONENT_PLURAL}`;

/**
 * The control loop: list Components, reconcile each through the per-key work queue, then watch from the
 * list's resourceVersion and enqueue what changes. A watch that ends or errs (410 Gone included) is
 * restarted with a fresh list after a backoff; a watch silent for `watchdogMs` is aborted and re-listed;
 * every `resyncMs` all Components are enqueued again. Reconciling is idempotent, so extra passes cost
 * reads, not writes.
 */
export function startController(opts: ControllerOptions): Controller {
  const log = opts.log ?? (() => undefined);
  const counters: ReconcileCounters = { applies: 0, skipped: 0, statusWrites: 0, finalizerWrites: 0, deletes: 0 };
  let elector: LeaderElector | undefined;
  const leading = (): boolean => elector?.isLeader() ?? opts.leaderElection === undefined;
  const queue = new WorkQueue(
    async (key) => {
      // A standby drops what it is told: on taking the lease it lists everything again.
      if (!leading()) return;
      const [namespace, name] = key.split("/") as [string, string];
      const started = performance.now();
      const took = (): number => (performance.now() - started) / 1000;
      await inReconcileSpan(namespace, name, async (outcome) => {
        try {
          await reconcileComponent(
            { kube: opts.kube, streams: opts.streams, render: opts.render, counters, mayWrite: leading },
            namespace,
            name,
          );
          metrics.reconciled("ok", took());
          outcome("ok");
        } catch (err) {
          // The lease was lost mid-pass: not retried here; the new leader redoes the key.
          if (err instanceof NotLeaderError) return outcome("not_leader");
          // A 409 means the object changed while we worked on it: not a failure, just run again on fresh data.
          if (isStatus(err, 409)) {
            metrics.reconciled("conflict", took());
            outcome("conflict");
            queue.add(key);
            return;
          }
          metrics.reconciled("error", took());
          outcome("error");
          log("reconcile failed; retrying with backoff", { key, err: (err as Error).message });
          throw err;
        }
      });
    },
    { concurrency: opts.concurrency ?? 4 },
  );
  let stopped = false;
  const sleepers = new Set<() => void>();
  /** A backoff pause that stop() cuts short: a pause can be 30 s. */
  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      sleepers.add(wake);
    });
  let listed = false;
  /** The last list succeeded: readiness also needs the API server, not only NATS. */
  let apiReachable = false;
  let lastEvent = Date.now();
  const metrics = new ControllerMetrics({
    queueDepth: () => queue.length,
    natsReachable: () => opts.streams.isConnected(),
    apiReachable: () => apiReachable,
  });
  let markSynced!: () => void;
  const synced = new Promise<void>((resolve) => (markSynced = resolve));
  const keyOf = (c: ComponentObject): string => `${c.metadata.namespace}/${c.metadata.name}`;

  const listAll = async (): Promise<string> => {
    const { items, resourceVersion } = await opts.kube.listComponents();
    for (const item of items) queue.add(keyOf(item));
    return resourceVersion;
  };

  let componentsWatch: OpenWatch | undefined;
  const watchOnce = (resourceVersion: string): Promise<boolean> => {
    lastEvent = Date.now();
    const watch = openWatch(
      opts.kube.kubeConfig,
      COMPONENTS_PATH,
      { resourceVersion, allowWatchBookmarks: true },
      (phase, object: ComponentObject) => {
        lastEvent = Date.now();
        // ERROR (410 Gone and friends): this watch cannot continue; the loop lists again.
        if (phase === "ERROR") watch.cancel();
        else if (phase !== "BOOKMARK") queue.add(keyOf(object));
      },
    );
    componentsWatch = watch;
    if (stopped) watch.cancel();
    return watch.ended;
  };

  const loop = (async () => {
    let failures = 0;
    while (!stopped) {
      try {
        const resourceVersion = await listAll();
        apiReachable = true;
        if (!listed) {
          listed = true;
          void queue.idle().then(markSynced);
        }
        // Only a watch that delivered something resets the backoff: one refused or cut at once (403, reset)
        // must not turn into a list of every Component ten times a second.
        if (await watchOnce(resourceVersion)) failures = 0;
        else failures += 1;
      } catch (err) {
        failures += 1;
        apiReachable = false;
        log("listing Components failed", { err: (err as Error).message });
      }
      if (stopped) break;
      const delay = Math.min(MAX_WATCH_BACKOFF_MS, 100 * 2 ** Math.min(failures, 9)) * (0.8 + 0.4 * Math.random());
      await pause(delay);
    }
  })();

  /**
   * Objects labelled with a component's name re-reconcile it. Deployments: a change in their status (workers
   * ready, KEDA scaling) makes the Ready condition and replicas follow without waiting for a resync. ConfigMaps:
   * an overlay labelled `tessera.dev/component: <name>` rolls the component as soon as it is edited (an unlabelled
   * overlay is read on every reconcile, so at the latest on the next resync), and a hashed ConfigMap deleted by
   * hand is recreated. Without a resourceVersion the server first sends every existing object as ADDED.
   */
  const labelledWatches = new Map<string, OpenWatch>();
  const watchLabelled = async (path: string): Promise<void> => {
    let failures = 0;
    while (!stopped) {
      const watch = openWatch(
        opts.kube.kubeConfig,
        path,
        { labelSelector: COMPONENT_NAME_LABEL },
        (phase, object: { metadata?: { namespace?: string; labels?: Record<string, string> } }) => {
          failures = 0;
          const component = object.metadata?.labels?.[COMPONENT_NAME_LABEL];
          if (
            phase !== "BOOKMARK" &&
            phase !== "ERROR" &&
            component !== undefined &&
            object.metadata?.namespace !== undefined
          )
            queue.add(`${object.metadata.namespace}/${component}`);
        },
      );
      labelledWatches.set(path, watch);
      if (stopped) watch.cancel();
      await watch.ended;
      if (stopped) break;
      failures += 1;
      await pause(Math.min(MAX_WATCH_BACKOFF_MS, 100 * 2 ** Math.min(failures, 9)));
    }
  };
  const labelledLoops = Promise.all(["/apis/apps/v1/deployments", "/api/v1/configmaps"].map(watchLabelled));

  const watchdogMs = opts.watchdogMs ?? 120_000;
  const watchdog = setInterval(
    () => {
      if (Date.now() - lastEvent > watchdogMs) {
        log("no watch event for too long; listing again", { silentMs: Date.now() - lastEvent });
        componentsWatch?.cancel();
        // Once per silent stretch, not on every tick of the backoff that follows.
        lastEvent = Date.now();
      }
    },
    Math.max(100, Math.min(watchdogMs / 4, 10_000)),
  );
  watchdog.unref();
  if (opts.leaderElection !== undefined)
    elector = startLeaderElection(opts.kube.kubeConfig, opts.leaderElection, {
      // Whatever changed while another replica led is picked up by a full pass.
      onStartedLeading: () => void listAll().catch(() => undefined),
      onStoppedLeading: () => undefined,
      log,
    });
  const resyncTimer = setInterval(() => void listAll().catch(() => undefined), opts.resyncMs ?? 300_000);
  resyncTimer.unref();

  return {
    counters,
    metrics,
    synced,
    ready: () => listed && apiReachable && opts.streams.isConnected(),
    isLeader: leading,
    resync: async () => {
      await listAll();
    },
    idle: () => queue.idle(),
    stop: async () => {
      stopped = true;
      for (const wake of [...sleepers]) wake();
      clearInterval(watchdog);
      clearInterval(resyncTimer);
      componentsWatch?.cancel();
      for (const watch of labelledWatches.values()) watch.cancel();
      queue.stop();
      await Promise.all([loop, labelledLoops]);
      if (elector !== undefined) {
        // Release the lease only once nothing of ours is in flight, so the successor never overlaps a write.
        await queue.idle();
        await elector.stop();
      }
    },
  };
}

interface OpenWatch {
  /** Resolves once the watch is over, with whether it delivered any event. */
  readonly ended: Promise<boolean>;
  /** Ends the watch now, even if the server has not begun its response. */
  cancel(): void;
}

/**
 * One watch request. client-node hands out the request's AbortController only once the response
 * headers arrive, so a watch whose response has not begun (a server or proxy that holds the headers
 * until the first event) could not be aborted: stop() and the watchdog waited out client-node's 30 s
 * timeout. Here `ended` settles at once on cancel, and the request is aborted whenever its controller
 * turns up. (Until then its socket stays open, at most those 30 s: client-node's Watch takes no signal.)
 */
function openWatch<T>(
  kubeConfig: k8s.KubeConfig,
  path: string,
  query: Record<string, string | boolean>,
  onEvent: (phase: string, object: T) => void,
): OpenWatch {
  let delivered = false;
  let cancelled = false;
  let request: AbortController | undefined;
  let settle!: (delivered: boolean) => void;
  const ended = new Promise<boolean>((resolve) => (settle = resolve));
  new k8s.Watch(kubeConfig)
    .watch(
      path,
      query,
      (phase, object: T) => {
        if (cancelled) return;
        delivered = true;
        onEvent(phase, object);
      },
      // A watch refused or cut before any event counts as a failure, so the callers back off.
      (err: unknown) =>
        settle(delivered && (err === null || err === undefined || (err as Error).name === "AbortError")),
    )
    .then(
      (controller) => {
        request = controller;
        if (cancelled) controller.abort();
      },
      () => settle(false),
    );
  return {
    ended,
    cancel: () => {
      cancelled = true;
      request?.abort();
      settle(delivered);
    },
  };
}
