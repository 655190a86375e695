import { hostname, userInfo } from "node:os";
import { COMPONENT_LABEL } from "@tessera/contract";
import { microTime } from "@tessera/controller";
import * as k8s from "@kubernetes/client-node";
import { CliError } from "../cli-error.js";
import { ExitCode } from "../exit-codes.js";
import { kubeError } from "../secrets/kube-secrets.js";
import { formatAge } from "../output/format.js";
import { CLI_FIELD_MANAGER } from "./cluster.js";

/** The one name of a component's deploy lock (a Lease in the component's namespace). */
export function deployLockName(component: string): string {
  return `tessera-deploy-${component}`;
}

/** Who holds a lock: user@host plus the pid, so two terminals of one person are two holders. */
export function lockHolderIdentity(env: Readonly<Record<string, string | undefined>>): string {
  let user = env["USER"];
  if (user === undefined || user === "") {
    try {
      user = userInfo().username;
    } catch {
      user = "unknown";
    }
  }
  return `${user}@${hostname()}+${process.pid}`;
}

export interface DeployLockTiming {
  /** Written into the Lease: a deploy that dies without releasing blocks others this long at most. */
  durationSeconds: number;
  /** Between renewals while the deploy runs. */
  renewEveryMs: number;
}

export const DEFAULT_DEPLOY_LOCK_TIMING: DeployLockTiming = { durationSeconds: 30, renewEveryMs: 10_000 };

interface LeaseObject {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string };
}

/** When a lease stops holding: its last renewal plus its duration (by our clock: a one-shot CLI cannot observe). */
function expiresAtMs(lease: LeaseObject): number {
  const renewed = Date.parse(lease.spec?.renewTime ?? lease.spec?.acquireTime ?? "");
  if (Number.isNaN(renewed)) return 0;
  return renewed + (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
}

function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
}

/** The refusal a second deploy gets: who holds the lock since when, and when it lapses if never released. */
export function lockedError(namespace: string, component: string, lease: LeaseObject, nowMs: number): CliError {
  const holder = lease.spec?.holderIdentity ?? "(unknown)";
  const since = lease.spec?.acquireTime;
  const expires = expiresAtMs(lease);
  const inSeconds = Math.max(0, Math.ceil((expires - nowMs) / 1000));
  return new CliError(
    `component ${namespace}/${component} is being deployed by ${holder}${since !== undefined ? ` (since ${formatAge(since, new Date(nowMs))} ago)` : ""}; nothing was written`,
    ExitCode.Locked,
    [
      `the lock is Lease ${namespace}/${deployLockName(component)}; it expires at ${new Date(expires).toISOString()} (in ${inSeconds} s) unless its holder renews it`,
      "run the command again once that deploy has finished",
    ],
  );
}

/** A held deploy lock: renewed in the background until released. */
export interface HeldLock {
  readonly component: string;
  readonly namespace: string;
  release(): Promise<void>;
}

/**
 * The per-component deploy lock: a `coordination.k8s.io/v1` Lease created, or taken over once expired, with
 * optimistic concurrency, so of two deploys racing for it exactly one wins and the other gets `lockedError`.
 */
export class DeployLocks {
  private readonly api: k8s.CustomObjectsApi;
  private readonly server: string;

  constructor(
    kubeConfig: k8s.KubeConfig,
    private readonly identity: string,
    private readonly timing: DeployLockTiming = DEFAULT_DEPLOY_LOCK_TIMING,
  ) {
    this.api = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    this.server = kubeConfig.getCurrentCluster()?.server ?? "(no server in the kubeconfig)";
  }

  private ref(namespace: string) {
    return { group: "coordination.k8s.io", version: "v1", namespace, plural: "leases" };
  }

  private async read(namespace: string, component: string): Promise<LeaseObject | undefined> {
    try {
      return (await this.api.getNamespacedCustomObject({
        ...this.ref(namespace),
        name: deployLockName(component),
      })) as LeaseObject;
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw kubeError(`read the deploy lock of ${namespace}/${component}`, err, this.server);
    }
  }

  /** Throws `lockedError` when someone else holds the lock now; reads only (a no-change deploy writes nothing). */
  async checkFree(namespace: string, component: string): Promise<void> {
    const lease = await this.read(namespace, component);
    if (lease !== undefined && this.heldByOther(lease)) throw lockedError(namespace, component, lease, Date.now());
  }

  private heldByOther(lease: LeaseObject): boolean {
    const holder = lease.spec?.holderIdentity ?? "";
    return holder !== "" && holder !== this.identity && expiresAtMs(lease) > Date.now();
  }

  async acquire(namespace: string, component: string): Promise<HeldLock> {
    const name = deployLockName(component);
    const now = Date.now();
    const spec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: this.timing.durationSeconds,
      acquireTime: microTime(now),
      renewTime: microTime(now),
    };
    const existing = await this.read(namespace, component);
    let lease: LeaseObject;
    try {
      if (existing === undefined)
        lease = (await this.api.createNamespacedCustomObject({
          ...this.ref(namespace),
          fieldManager: CLI_FIELD_MANAGER,
          body: {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name, namespace, labels: { [COMPONENT_LABEL]: component } },
            spec,
          },
        })) as LeaseObject;
      else {
        if (this.heldByOther(existing)) throw lockedError(namespace, component, existing, now);
        lease = (await this.api.replaceNamespacedCustomObject({
          ...this.ref(namespace),
          name,
          fieldManager: CLI_FIELD_MANAGER,
          body: { ...existing, spec },
        })) as LeaseObject;
      }
    } catch (err) {
      if (err instanceof CliError) throw err;
      // Someone created or took it between our read and our write: they hold it now.
      if (statusCode(err) === 409) {
        const winner = await this.read(namespace, component);
        if (winner !== undefined) throw lockedError(namespace, component, winner, Date.now());
      }
      throw kubeError(`take the deploy lock of ${namespace}/${component}`, err, this.server);
    }
    return this.hold(namespace, component, lease);
  }

  private hold(namespace: string, component: string, taken: LeaseObject): HeldLock {
    let lease = taken;
    let released = false;
    let inflight: Promise<void> = Promise.resolve();
    const renew = async (): Promise<void> => {
      try {
        lease = (await this.api.replaceNamespacedCustomObject({
          ...this.ref(namespace),
          name: lease.metadata.name,
          fieldManager: CLI_FIELD_MANAGER,
          body: { ...lease, spec: { ...lease.spec, renewTime: microTime(Date.now()) } },
        })) as LeaseObject;
      } catch {
        // A missed renewal is retried at the next tick; the lease outlives two of them.
      }
    };
    const timer = setInterval(() => void (inflight = renew()), this.timing.renewEveryMs);
    timer.unref();
    return {
      component,
      namespace,
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        await inflight;
        try {
          await this.api.deleteNamespacedCustomObject({
            ...this.ref(namespace),
            name: lease.metadata.name,
            body: { preconditions: { resourceVersion: lease.metadata.resourceVersion } },
          });
        } catch {
          // Already gone, or renewed by a late tick: it lapses by itself within its duration.
        }
      },
    };
  }
}
