import {
  DEFAULT_ENVIRONMENT,
  GuardRailError,
  busSettingsFromSpec,
  componentNameProblem,
  guardRailFindings,
  guardRailVerdict,
  validateComponentSpec,
  type ComponentBusSettings,
  type DeployStatus,
} from "@tessera/contract";
import { isDeepStrictEqual } from "node:util";
import type { RenderContext } from "../render/context.js";
import { RenderError, kubernetesObjects, renderComponent } from "../render/render-component.js";
import { removeCanaryLeftovers } from "./canary-cleanup.js";
import { nextConditions, type Condition, type ConditionUpdate } from "./conditions.js";
import { COMPONENT_NAME_LABEL } from "../render/labels.js";
import { DEFAULT_SERVICE_ACCOUNT, RBAC_KINDS } from "../render/rbac.js";
import { isContained } from "./contained.js";
import { isStatus, type ComponentObject, type KubeAccess, type KubeObjectLike } from "./kube-access.js";
import { planRevision, pruneRevisions, recordRevision, revisionOwner } from "./revisions.js";

/** Held on every Component until its stream and consumer are gone. */
export const STREAM_FINALIZER = "tessera.dev/stream";

/** What the controller needs of NATS; a `Bus` from @tessera/bus (JetStream, provisioning on) is one. */
export interface StreamProvisioner {
  ensureComponent(settings: ComponentBusSettings): Promise<void>;
  removeComponent(component: string): Promise<void>;
  isConnected(): boolean;
}

export interface ReconcileCounters {
  /** Server-side applies sent (objects whose rendering was not already contained in the live object). */
  applies: number;
  /** Objects already as rendered: no write. */
  skipped: number;
  statusWrites: number;
  finalizerWrites: number;
  /** Objects an earlier spec rendered and this one no longer does, deleted (a promoted or aborted canary, RBAC no longer declared). */
  deletes: number;
}

export interface ReconcilerDeps {
  kube: KubeAccess;
  streams: StreamProvisioner;
  render: RenderContext;
  counters: ReconcileCounters;
  now?: () => Date;
  /** Checked before every write (API server and NATS): false once this replica lost its lease. */
  mayWrite?: () => boolean;
}

/** A reconcile cut short because this replica is no longer the leader; the new leader redoes it. */
export class NotLeaderError extends Error {
  constructor() {
    super("not the leader: this replica lost its lease, so it writes nothing");
    this.name = "NotLeaderError";
  }
}

function fence(deps: ReconcilerDeps): void {
  if (deps.mayWrite !== undefined && !deps.mayWrite()) throw new NotLeaderError();
}

/**
 * One level-based pass over a Component: read it, then make the world match. Deleted (with our
 * finalizer): remove its stream and consumer, then the finalizer. Otherwise: make sure the finalizer is
 * on; validate the spec (a bad spec is reported in status and not retried — the next edit triggers a
 * pass); create or update the stream and consumer before anything that needs them (KEDA reads the
 * consumer's lag to scale from zero, a worker only binds); apply each rendered object unless the live one
 * already contains it; write status only when it changed. Any failure throws, and the work queue retries
 * the key with backoff.
 */
export async function reconcileComponent(deps: ReconcilerDeps, namespace: string, name: string): Promise<void> {
  const { kube, streams, counters } = deps;
  let component = await kube.getComponent(namespace, name);
  if (component === undefined) return;
  const finalizers = component.metadata.finalizers ?? [];

  if (component.metadata.deletionTimestamp !== undefined) {
    if (!finalizers.includes(STREAM_FINALIZER)) return;
    // A name that was never valid never had a stream; a missing stream is not an error for the bus either.
    fence(deps);
    if (componentNameProblem(name) === undefined) await streams.removeComponent(name);
    component.metadata.finalizers = finalizers.filter((f) => f !== STREAM_FINALIZER);
    fence(deps);
    await kube.replaceComponent(component);
    counters.finalizerWrites += 1;
    return;
  }
  if (!finalizers.includes(STREAM_FINALIZER)) {
    component.metadata.finalizers = [...finalizers, STREAM_FINALIZER];
    fence(deps);
    component = await kube.replaceComponent(component);
    counters.finalizerWrites += 1;
  }

  const nameProblem = componentNameProblem(name);
  const checked = validateComponentSpec(component.spec);
  if (nameProblem !== undefined || !checked.ok) {
    const message =
      nameProblem !== undefined ? `metadata.name: ${nameProblem}` : checked.ok ? "" : checked.error.message;
    await writeStatus(deps, component, notProvisioned("InvalidSpec", message, "invalid"));
    return;
  }
  const spec = checked.value;
  // Outside local, a local-only config value is refused here too (a Component applied with kubectl never
  // went through `tessera render --env`): reported in status, nothing provisioned.
  const environment = deps.render.environment ?? DEFAULT_ENVIRONMENT;
  const refused = guardRailVerdict(environment, guardRailFindings({ components: [{ name, spec }] })).refuse;
  if (refused.length > 0) {
    const message = new GuardRailError(environment, refused, "reconcile").message;
    await writeStatus(deps, component, notProvisioned("RefusedInEnvironment", message, "refused"));
    return;
  }
  const valid: ConditionUpdate = {
    type: "Valid",
    status: "True",
    reason: "Valid",
    message: "the spec passed validation",
  };

  fence(deps);
  try {
    await streams.ensureComponent(busSettingsFromSpec(name, spec));
  } catch (err) {
    const message = `cannot create or update the stream and consumer: ${(err as Error).message}`;
    await writeStatus(deps, component, [
      valid,
      { type: "StreamReady", status: "False", reason: "NatsUnavailable", message },
      { type: "Ready", status: "False", reason: "StreamNotReady", message },
    ]);
    throw err;
  }
  const streamReady: ConditionUpdate = {
    type: "StreamReady",
    status: "True",
    reason: "Provisioned",
    message: "stream and durable consumer exist",
  };

  const plan = await planRevision(kube, component, spec);
  if (plan.kind === "overlay-missing") {
    // Nothing rolls: the live revision's objects stay as they are until the overlay exists (its watch requeues).
    await writeStatus(deps, component, [
      valid,
      streamReady,
      { type: "ConfigReady", status: "False", reason: "OverlayNotFound", message: plan.message },
    ]);
    return;
  }
  let rendered: ReturnType<typeof renderComponent>;
  try {
    rendered = renderComponent(
      { name, namespace, uid: component.metadata.uid, spec, overlay: plan.overlay, provenance: plan.provenance },
      deps.render,
    );
  } catch (err) {
    // Typically an overlay key that is no environment variable name: not retried, the next change is.
    if (!(err instanceof RenderError)) throw err;
    await writeStatus(deps, component, [
      valid,
      streamReady,
      { type: "ConfigReady", status: "False", reason: "CannotRender", message: err.message },
    ]);
    return;
  }
  if (plan.kind === "new") fence(deps);
  const revision = plan.kind === "new" ? await recordRevision(kube, component, spec, plan, rendered) : plan.live;
  const revisions = plan.kind === "new" ? [...plan.revisions, revision] : plan.revisions;
  for (const configMap of rendered.configMaps) configMap.metadata.ownerReferences = [revisionOwner(revision)];
  const configReady: ConditionUpdate = {
    type: "ConfigReady",
    status: "True",
    reason: "Revision",
    message: `revision ${revision.revision} reads its config from ConfigMap ${rendered.config.configMapName}`,
  };

  for (const object of kubernetesObjects(rendered) as unknown as KubeObjectLike[]) {
    const live = await kube.read(object);
    if (object.kind === "Deployment" && rbacMayExist(spec.rbac !== undefined, live)) {
      // Before the Deployment changes: should the prune fail, the live Deployment still names the account and
      // the retry prunes again (after it, a retry would see the default account and skip this).
      const keep = new Set(rendered.rbac.map((o) => `${o.kind}/${o.metadata.name}`));
      await pruneRbac(deps, namespace, name, keep);
    }
    if (live !== undefined && isContained(object, live)) {
      counters.skipped += 1;
      continue;
    }
    fence(deps);
    try {
      await kube.apply(object);
    } catch (err) {
      // The API server's escalation check: the spec asks for more than the controller may grant.
      if (isStatus(err, 403) && RBAC_KINDS.some((k) => k.kind === object.kind)) {
        const message = `${object.kind} ${object.metadata.name} refused: ${apiMessage(err)}`;
        await writeStatus(deps, component, [
          valid,
          streamReady,
          { type: "Ready", status: "False", reason: "RbacNotGrantable", message },
        ]);
      }
      throw err;
    }
    counters.applies += 1;
  }
  if (rendered.canary === undefined) {
    counters.deletes += await removeCanaryLeftovers(kube, namespace, name, () => fence(deps));
  }
  counters.deletes += await pruneRevisions(kube, namespace, spec, revisions, () => fence(deps));

  const deployment = await kube.read<
    KubeObjectLike & { spec?: { replicas?: number }; status?: { replicas?: number; readyReplicas?: number } }
  >(rendered.deployment as unknown as KubeObjectLike);
  const wanted = deployment?.spec?.replicas ?? 0;
  const ready = deployment?.status?.readyReplicas ?? 0;
  const readiness: ConditionUpdate =
    wanted === 0
      ? {
          type: "Ready",
          status: "True",
          reason: "ScaledToZero",
          message: "no jobs waiting; KEDA starts a worker when jobs arrive",
        }
      : ready > 0
        ? { type: "Ready", status: "True", reason: "WorkersReady", message: `${ready} of ${wanted} workers ready` }
        : { type: "Ready", status: "False", reason: "WorkersStarting", message: `0 of ${wanted} workers ready` };
  await writeStatus(deps, component, [valid, streamReady, configReady, readiness], deployment?.status?.replicas ?? 0, {
    revision: revision.revision,
    configMapName: rendered.config.configMapName,
  });
}

/**
 * Whether this component may have RBAC objects to prune: it declares rbac, or its live Deployment runs as an
 * account of its own (an earlier spec declared rbac). Otherwise nothing is listed, so a component without rbac
 * costs no request more than before RBAC existed.
 */
function rbacMayExist(declared: boolean, liveDeployment: KubeObjectLike | undefined): boolean {
  if (declared) return true;
  const account = (liveDeployment as { spec?: { template?: { spec?: { serviceAccountName?: string } } } } | undefined)
    ?.spec?.template?.spec?.serviceAccountName;
  return account !== undefined && account !== "" && account !== DEFAULT_SERVICE_ACCOUNT;
}

/**
 * Deletes the ServiceAccount, Role and RoleBindings labelled for this component that the spec no longer
 * renders: a permission removed from the spec is revoked now, not when the Component is deleted.
 */
async function pruneRbac(deps: ReconcilerDeps, namespace: string, name: string, keep: Set<string>): Promise<void> {
  for (const type of RBAC_KINDS) {
    for (const stale of await deps.kube.listNames(type, namespace, `${COMPONENT_NAME_LABEL}=${name}`)) {
      if (keep.has(`${type.kind}/${stale}`)) continue;
      fence(deps);
      await deps.kube.delete({ ...type, metadata: { name: stale, namespace } });
      deps.counters.deletes += 1;
    }
  }
}

/** The API server's own message of a failed request (client-node puts the Status in `body`). */
function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  try {
    const parsed = (typeof body === "string" ? JSON.parse(body) : body) as { message?: unknown } | undefined;
    if (typeof parsed?.message === "string") return parsed.message;
  } catch {
    // not JSON
  }
  return (err as Error).message;
}

async function writeStatus(
  deps: ReconcilerDeps,
  component: ComponentObject,
  updates: ConditionUpdate[],
  replicas?: number,
  deploy?: DeployStatus,
): Promise<void> {
  const generation = component.metadata.generation ?? 0;
  const previous = (component.status?.conditions ?? []) as Condition[];
  const { revision, configMapName } = deploy ?? component.status ?? {};
  const next = {
    observedGeneration: generation,
    ...(revision !== undefined ? { revision } : {}),
    ...(configMapName !== undefined ? { configMapName } : {}),
    ...(replicas !== undefined
      ? { replicas }
      : component.status?.replicas !== undefined
        ? { replicas: component.status.replicas }
        : {}),
    conditions: nextConditions(previous, updates, generation, (deps.now ?? (() => new Date()))()),
  };
  if (isDeepStrictEqual(next, component.status ?? {})) return;
  fence(deps);
  await deps.kube.replaceComponentStatus({ ...component, status: next });
  deps.counters.statusWrites += 1;
}

/** The conditions of a Component whose spec is not provisioned (`reason`, `message`), its stream left alone. */
function notProvisioned(reason: string, message: string, spec: "invalid" | "refused"): ConditionUpdate[] {
  return [
    { type: "Valid", status: "False", reason, message },
    { type: "StreamReady", status: "Unknown", reason, message: `not provisioned while the spec is ${spec}` },
    { type: "Ready", status: "False", reason, message },
  ];
}
