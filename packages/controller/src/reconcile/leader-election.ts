import * as k8s from "@kubernetes/client-node";
import { isStatus } from "./kube-access.js";

/** client-go's defaults (kube-controller-manager uses the same): a crashed leader is replaced within ~15 s. */
export const DEFAULT_LEADER_ELECTION_TIMING: LeaderElectionTiming = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

export interface LeaderElectionTiming {
  /** How long a lease stays valid after its last renewal; written (rounded up to seconds) into the Lease. */
  leaseDurationMs: number;
  /** The leader that could not renew for this long stops reconciling. Shorter than the lease duration. */
  renewDeadlineMs: number;
  /** Between attempts to acquire, and between renewals. Shorter than the renew deadline. */
  retryPeriodMs: number;
}

export interface LeaderElectionOptions extends Partial<LeaderElectionTiming> {
  /** Namespace of the Lease: where the controller runs (its Role grants leases there). */
  namespace: string;
  /** Lease name. Default `controllerLeaseName()`. */
  name?: string;
  /** Unique per process: the pod name plus a random suffix (a restarted pod is a new candidate). */
  identity: string;
}

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface LeaseObject {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** The one name of the controller's Lease: the election code and the install Role both use it. */
export function controllerLeaseName(): string {
  return "tessera-controller";
}

/**
 * Whether a lease can be taken, decided the way client-go does: the holder's renewTime is not compared
 * with our clock (clocks of two nodes may disagree); instead the lease is held while less than its duration
 * has passed since *we* last saw it change (`observedAtMs`, our clock).
 */
export function leaseVerdict(
  spec: LeaseSpec | undefined,
  identity: string,
  observedAtMs: number,
  nowMs: number,
): "mine" | "free" | "held" {
  const holder = spec?.holderIdentity ?? "";
  if (holder === identity) return "mine";
  if (holder === "") return "free";
  return observedAtMs + (spec?.leaseDurationSeconds ?? 0) * 1000 > nowMs ? "held" : "free";
}

/** Lease times are MicroTime: RFC 3339 with exactly six fractional digits (the API server refuses three). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, "000Z");
}

export interface LeaderElector {
  /** True while the lease is ours and was renewed within the renew deadline (checked against the clock). */
  isLeader(): boolean;
  /** Ends the election; a leader first gives the lease up (empty holder), so a successor need not wait it out. */
  stop(): Promise<void>;
}

export interface LeaderCallbacks {
  onStartedLeading(): void;
  /** Called at once when the renew deadline passes without a renewal (or on stop): stop writing. */
  onStoppedLeading(): void;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

function checkTiming(t: LeaderElectionTiming): void {
  if (!(t.retryPeriodMs > 0 && t.retryPeriodMs < t.renewDeadlineMs && t.renewDeadlineMs < t.leaseDurationMs))
    throw new Error(
      `leader election: expected 0 < retryPeriod < renewDeadline < leaseDuration, got ${t.retryPeriodMs} / ${t.renewDeadlineMs} / ${t.leaseDurationMs} ms`,
    );
}

/**
 * Lease-based leader election on `coordination.k8s.io/v1` (client-go's algorithm): a candidate creates the
 * Lease or takes it once it is free or expired, with optimistic concurrency (resourceVersion) so two
 * candidates never both win; the leader renews every retry period and, the moment the renew deadline passes
 * without a successful renewal, stops leading. Because the renew deadline is shorter than the lease
 * duration, a leader cut off from the API server has stopped before anyone else may take the lease.
 */
export function startLeaderElection(
  kubeConfig: k8s.KubeConfig,
  opts: LeaderElectionOptions,
  callbacks: LeaderCallbacks,
): LeaderElector {
  const timing: LeaderElectionTiming = {
    leaseDurationMs: opts.leaseDurationMs ?? DEFAULT_LEADER_ELECTION_TIMING.leaseDurationMs,
    renewDeadlineMs: opts.renewDeadlineMs ?? DEFAULT_LEADER_ELECTION_TIMING.renewDeadlineMs,
    retryPeriodMs: opts.retryPeriodMs ?? DEFAULT_LEADER_ELECTION_TIMING.retryPeriodMs,
  };
  checkTiming(timing);
  const log = callbacks.log ?? (() => undefined);
  const api = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const ref = { group: "coordination.k8s.io", version: "v1", namespace: opts.namespace, plural: "leases" };
  const name = opts.name ?? controllerLeaseName();
  const durationSeconds = Math.ceil(timing.leaseDurationMs / 1000);
  let observed: { resourceVersion: string | undefined; atMs: number } = { resourceVersion: undefined, atMs: 0 };
  let leading = false;
  let lastRenewMs = 0;
  let stopped = false;
  let wakeUp: (() => void) | undefined;
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => done(), ms);
      const done = (): void => {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      };
      wakeUp = done;
    });

  const isLeader = (): boolean => leading && !stopped && Date.now() - lastRenewMs < timing.renewDeadlineMs;
  const stepDown = (why: string): void => {
    if (!leading) return;
    leading = false;
    log("stopped leading", { lease: `${opts.namespace}/${name}`, identity: opts.identity, why });
    callbacks.onStoppedLeading();
  };

  /** One attempt to create, take or renew the lease; true when we hold it afterwards. */
  const tryAcquireOrRenew = async (): Promise<boolean> => {
    const now = Date.now();
    let lease: LeaseObject | undefined;
    try {
      lease = (await api.getNamespacedCustomObject({ ...ref, name })) as LeaseObject;
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
    }
    if (lease === undefined) {
      const created: LeaseObject = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace: opts.namespace },
        spec: {
          holderIdentity: opts.identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      await api.createNamespacedCustomObject({ ...ref, body: created });
      return true;
    }
    if (lease.metadata.resourceVersion !== observed.resourceVersion)
      observed = { resourceVersion: lease.metadata.resourceVersion, atMs: now };
    const verdict = leaseVerdict(lease.spec, opts.identity, observed.atMs, now);
    if (verdict === "held") return false;
    const taking = verdict === "free";
    const spec: LeaseSpec = {
      ...lease.spec,
      holderIdentity: opts.identity,
      leaseDurationSeconds: durationSeconds,
      renewTime: microTime(now),
      ...(taking ? { acquireTime: microTime(now), leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 } : {}),
    };
    const replaced = (await api.replaceNamespacedCustomObject({
      ...ref,
      name,
      body: { ...lease, spec },
    })) as LeaseObject;
    observed = { resourceVersion: replaced.metadata.resourceVersion, atMs: now };
    return true;
  };

  const attempt = async (): Promise<boolean> => {
    try {
      return await tryAcquireOrRenew();
    } catch (err) {
      // 409: another candidate wrote first (or the lease moved under us): not ours this round.
      if (!isStatus(err, 409)) log("lease request failed", { err: (err as Error).message });
      return false;
    }
  };

  const loop = (async () => {
    while (!stopped) {
      if (!leading) {
        const started = Date.now();
        if (await attempt()) {
          if (stopped) break;
          leading = true;
          lastRenewMs = started;
          log("started leading", { lease: `${opts.namespace}/${name}`, identity: opts.identity });
          callbacks.onStartedLeading();
          continue;
        }
        // Jittered like client-go, so candidates do not retry in lockstep.
        await sleep(timing.retryPeriodMs * (1 + 0.2 * Math.random()));
        continue;
      }
      await sleep(timing.retryPeriodMs);
      if (stopped) break;
      const started = Date.now();
      const remaining = lastRenewMs + timing.renewDeadlineMs - started;
      // A renewal that hangs must not keep us leading past the deadline.
      let deadline: NodeJS.Timeout | undefined;
      const renewed = await Promise.race([
        attempt(),
        new Promise<false>((resolve) => (deadline = setTimeout(() => resolve(false), Math.max(0, remaining)))),
      ]);
      clearTimeout(deadline);
      if (renewed) lastRenewMs = started;
      else if (Date.now() - lastRenewMs >= timing.renewDeadlineMs) stepDown("renew deadline passed");
    }
  })();

  // isLeader() already turns false at the deadline; this also tells the callback without waiting for the loop.
  const watchdog = setInterval(
    () => {
      if (leading && !isLeader() && !stopped) stepDown("renew deadline passed");
    },
    Math.max(50, timing.retryPeriodMs / 4),
  );
  watchdog.unref();

  return {
    isLeader,
    stop: async () => {
      const wasLeader = isLeader();
      stopped = true;
      clearInterval(watchdog);
      wakeUp?.();
      await loop;
      stepDown("stopping");
      if (!wasLeader) return;
      try {
        const lease = (await api.getNamespacedCustomObject({ ...ref, name })) as LeaseObject;
        if (lease.spec?.holderIdentity !== opts.identity) return;
        const now = Date.now();
        await api.replaceNamespacedCustomObject({
          ...ref,
          name,
          body: {
            ...lease,
            spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: microTime(now) },
          },
        });
        log("released the lease", { lease: `${opts.namespace}/${name}`, identity: opts.identity });
      } catch (err) {
        log("could not release the lease; it expires on its own", { err: (err as Error).message });
      }
    },
  };
}
