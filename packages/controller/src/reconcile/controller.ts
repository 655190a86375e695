import * as k8s from "@kubernetes/client-node";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "../crd/index.js";
import type { RenderContext } from "../render/context.js";
import { COMPONENT_NAME_LABEL } from "../render/labels.js";
import { isStatus, type ComponentObject, type KubeAccess } from "./kube-access.js";
import { reconcileComponent, type ReconcileCounters, type StreamProvisioner } from "./reconciler.js";
import { WorkQueue } from "./work-queue.js";

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
}

export interface Controller {
  readonly counters: ReconcileCounters;
  /** Listed once and every key reconciled at least once since. */
  readonly synced: Promise<void>;
  /** Ready = the first list done, the latest list succeeded, and NATS reachable. */
  ready(): boolean;
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
  const counters: ReconcileCounters = { applies: 0, skipped: 0, statusWrites: 0, finalizerWrites: 0 };
  const queue = new WorkQueue(
    async (key) => {
      const [namespace, name] = key.split("/") as [string, string];
      try {
        await reconcileComponent({ kube: opts.kube, streams: opts.streams, render: opts.render, counters }, namespace, name);
      } catch (err) {
        // A 409 means the object changed while we worked on it: not a failure, just run again on fresh data.
        if (isStatus(err, 409)) {
          queue.add(key);
          return;
        }
        log("reconcile failed; retrying with backoff", { key, err: (err as Error).message });
        throw err;
      }
    },
    { concurrency: opts.concurrency ?? 4 },
  );
  let stopped = false;
  let listed = false;
  /** The last list succeeded: readiness also needs the API server, not only NATS. */
  let apiReachable = false;
  let abort: AbortController | undefined;
  let lastEvent = Date.now();
  let markSynced!: () => void;
  const synced = new Promise<void>((resolve) => (markSynced = resolve));
  const keyOf = (c: ComponentObject): string => `${c.metadata.namespace}/${c.metadata.name}`;

  const listAll = async (): Promise<string> => {
    const { items, resourceVersion } = await opts.kube.listComponents();
    for (const item of items) queue.add(keyOf(item));
    return resourceVersion;
  };

  /** Resolves with whether the watch delivered anything: a watch refused or cut at once counts as a failure. */
  const watchOnce = (resourceVersion: string): Promise<boolean> =>
    new Promise((resolve) => {
      lastEvent = Date.now();
      let delivered = false;
      new k8s.Watch(opts.kube.kubeConfig)
        .watch(
          COMPONENTS_PATH,
          { resourceVersion, allowWatchBookmarks: true },
          (phase, object: ComponentObject) => {
            lastEvent = Date.now();
            delivered = true;
            if (phase === "ERROR") {
              // 410 Gone and friends: this watch cannot continue; the loop lists again.
              abort?.abort();
              return;
            }
            if (phase !== "BOOKMARK") queue.add(keyOf(object));
          },
          (err: unknown) => resolve(delivered && (err === null || err === undefined || (err as Error).name === "AbortError")),
        )
        .then(
          (controller) => {
            abort = controller;
            if (stopped) controller.abort();
          },
          () => resolve(false),
        );
    });

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
      await new Promise((r) => setTimeout(r, delay).unref());
    }
  })();

  // The Deployments the controller manages: a change in their status (workers ready, KEDA scaling)
  // re-reconciles the owning Component so its Ready condition and replicas follow without waiting for a
  // resync. Without a resourceVersion the server first sends every existing object as ADDED.
  let deploymentsAbort: AbortController | undefined;
  const deploymentsLoop = (async () => {
    let failures = 0;
    while (!stopped) {
      await new Promise<void>((resolve) => {
        new k8s.Watch(opts.kube.kubeConfig)
          .watch(
            "/apis/apps/v1/deployments",
            { labelSelector: COMPONENT_NAME_LABEL },
            (phase, object: { metadata?: { namespace?: string; labels?: Record<string, string> } }) => {
              failures = 0;
              const component = object.metadata?.labels?.[COMPONENT_NAME_LABEL];
              if (phase !== "BOOKMARK" && phase !== "ERROR" && component !== undefined && object.metadata?.namespace !== undefined) queue.add(`${object.metadata.namespace}/${component}`);
            },
            () => resolve(),
          )
          .then(
            (controller) => {
              deploymentsAbort = controller;
              if (stopped) controller.abort();
            },
            () => resolve(),
          );
      });
      if (stopped) break;
      failures += 1;
      await new Promise((r) => setTimeout(r, Math.min(MAX_WATCH_BACKOFF_MS, 100 * 2 ** Math.min(failures, 9))).unref());
    }
  })();

  const watchdogMs = opts.watchdogMs ?? 120_000;
  const watchdog = setInterval(() => {
    if (Date.now() - lastEvent > watchdogMs) {
      log("no watch event for too long; listing again", { silentMs: Date.now() - lastEvent });
      abort?.abort();
    }
  }, Math.max(100, Math.min(watchdogMs / 4, 10_000)));
  watchdog.unref();
  const resyncTimer = setInterval(() => void listAll().catch(() => undefined), opts.resyncMs ?? 300_000);
  resyncTimer.unref();

  return {
    counters,
    synced,
    ready: () => listed && apiReachable && opts.streams.isConnected(),
    resync: async () => {
      await listAll();
    },
    idle: () => queue.idle(),
    stop: async () => {
      stopped = true;
      clearInterval(watchdog);
      clearInterval(resyncTimer);
      abort?.abort();
      deploymentsAbort?.abort();
      queue.stop();
      await Promise.all([loop, deploymentsLoop]);
    },
  };
}
