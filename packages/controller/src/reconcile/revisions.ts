import {
  configHash,
  recordedDeployRevisions,
  deployProvenanceAnnotations,
  deployProvenanceFromAnnotations,
  deployRevisionLabels,
  deployRevisionName,
  deployRevisionSelector,
  normalizeSpec,
  revisionContentHash,
  revisionHistoryLimit,
  specHash,
  type ComponentSpec,
  type ControllerRevisionFields,
  type DeployProvenance,
  type DeployRevisionData,
  type RecordedDeployRevision,
} from "@tessera/contract";
import type { RenderedComponent } from "../render/render-component.js";
import { componentLabels, ownerReference, type OwnerReference } from "../render/labels.js";
import { isStatus, type ComponentObject, type KubeAccess, type KubeObjectLike } from "./kube-access.js";

/** Deploy revisions (docs/decisions/0038-deploy-revisions.md): what one Component deploy ran, kept by the cluster. */
export const CONTROLLER_REVISION = { apiVersion: "apps/v1", kind: "ControllerRevision" } as const;

/** A deploy revision the controller can own and prune: one the API server gave a uid. */
export type RecordedRevision = RecordedDeployRevision & { uid: string };

interface ControllerRevisionObject extends KubeObjectLike, ControllerRevisionFields {
  metadata: ControllerRevisionFields["metadata"] & { namespace?: string };
}

/** A component's deploy revisions, oldest first; one whose data is not a revision record is left out. */
export async function listDeployRevisions(
  kube: KubeAccess,
  namespace: string,
  component: string,
): Promise<RecordedRevision[]> {
  const items = await kube.list<ControllerRevisionObject>(
    CONTROLLER_REVISION,
    namespace,
    deployRevisionSelector(component),
  );
  return recordedDeployRevisions(items).filter((r): r is RecordedRevision => r.uid !== undefined);
}

interface PlannedRevision {
  revisions: RecordedRevision[];
  /** Merged over spec.config when rendering (`ComponentInput.overlay`). */
  overlay: Record<string, string> | undefined;
  provenance: DeployProvenance;
  contentHash: string;
  observedOverlay: DeployRevisionData["overlay"];
}

/** What a reconcile renders: the live revision again, or a new one after `live`. */
export type RevisionPlan =
  | { kind: "overlay-missing"; message: string }
  | (PlannedRevision & { kind: "live"; live: RecordedRevision })
  | (PlannedRevision & { kind: "new"; live: RecordedRevision | undefined });

/**
 * Decides what the Component's revision is. A new one when what it declares (spec and overlay data, no provenance)
 * differs from the live revision's, or when it carries a `rollback-of` the live revision was not made for: that
 * re-points to revision N's recorded config (the spec is N's, written by `tessera rollback`) as a new number, so
 * history stays linear. Otherwise the live revision, rendered from its own record: a rollback's config stays
 * pinned until the spec or the overlay changes again.
 */
export async function planRevision(
  kube: KubeAccess,
  component: ComponentObject,
  spec: ComponentSpec,
): Promise<RevisionPlan> {
  const { namespace, name } = component.metadata;
  let overlayData: Record<string, string> | undefined;
  if (spec.configOverlay !== undefined) {
    const overlay = await kube.read<KubeObjectLike & { data?: Record<string, string> }>({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: spec.configOverlay, namespace },
    });
    if (overlay === undefined)
      return {
        kind: "overlay-missing",
        message: `the overlay ConfigMap ${namespace}/${spec.configOverlay} (spec.configOverlay) does not exist; the live revision keeps running`,
      };
    overlayData = { ...(overlay.data ?? {}) };
  }
  const revisions = await listDeployRevisions(kube, namespace, name);
  const live = revisions.at(-1);
  const provenance = deployProvenanceFromAnnotations(component.metadata.annotations);
  const base = {
    revisions,
    provenance,
    contentHash: revisionContentHash(spec, overlayData),
    observedOverlay:
      spec.configOverlay !== undefined && overlayData !== undefined
        ? { name: spec.configOverlay, dataHash: configHash(overlayData) }
        : undefined,
  };
  const rollbackOf = provenance.rollbackOf;
  if (rollbackOf !== undefined && rollbackOf !== live?.data.provenance.rollbackOf) {
    const target = revisions.find((r) => r.revision === rollbackOf);
    // A target pruned meanwhile, or a spec edited after the rollback wrote it: an ordinary change, below.
    if (target !== undefined && target.data.specHash === specHash(spec))
      return { kind: "new", live, ...base, overlay: target.data.effectiveConfig };
  }
  if (live !== undefined && live.data.contentHash === base.contentHash)
    return { kind: "live", live, ...base, overlay: live.data.effectiveConfig };
  return { kind: "new", live, ...base, overlay: overlayData };
}

/** Records the rendering as the component's next revision. A concurrent writer of the same number gets a 409. */
export async function recordRevision(
  kube: KubeAccess,
  component: ComponentObject,
  spec: ComponentSpec,
  plan: Extract<RevisionPlan, { kind: "new" }>,
  rendered: RenderedComponent,
): Promise<RecordedRevision> {
  const { namespace, name, uid } = component.metadata;
  const revision = (plan.live?.revision ?? 0) + 1;
  const canary = rendered.canary;
  const images = [spec.image];
  const canaryImage = canary?.deployment.spec?.template.spec?.containers[0]?.image;
  if (canaryImage !== undefined && canaryImage !== spec.image) images.push(canaryImage);
  const data: DeployRevisionData = {
    schemaVersion: 1,
    spec: normalizeSpec(spec),
    specHash: specHash(spec),
    contentHash: plan.contentHash,
    provenance: plan.provenance,
    effectiveConfig: { ...rendered.config.data },
    config: { hash: rendered.config.hash, configMapName: rendered.config.configMapName },
    ...(canary !== undefined
      ? { canaryConfig: { hash: canary.config.hash, configMapName: canary.config.configMapName } }
      : {}),
    ...(plan.observedOverlay !== undefined ? { overlay: plan.observedOverlay } : {}),
    images,
  };
  const owner = ownerReference({ name, namespace, uid });
  const created = await kube.create<ControllerRevisionObject>({
    ...CONTROLLER_REVISION,
    metadata: {
      name: deployRevisionName(name, revision),
      namespace,
      labels: { ...componentLabels(name), ...deployRevisionLabels(name, revision) },
      annotations: deployProvenanceAnnotations(plan.provenance),
      ...(owner !== undefined ? { ownerReferences: [owner] } : {}),
    },
    revision,
    data,
  });
  const [recorded] = recordedDeployRevisions([created]);
  // An owner reference needs the uid, and the record is read back as any other revision is.
  if (recorded?.uid === undefined)
    throw new Error(`the API server returned ControllerRevision ${created.metadata.name} without a uid or its record`);
  return { ...recorded, uid: recorded.uid };
}

/**
 * The owner a hashed ConfigMap gets: the newest revision that uses it (the one being rendered). Revisions are
 * pruned oldest first, so every older revision naming the same ConfigMap is gone before its owner is, and the
 * garbage collector deletes it with the last revision that can use it. Not a controller reference: the
 * Component's revisions are its controller's business, the ConfigMap only follows one of them.
 */
export function revisionOwner(revision: RecordedRevision): OwnerReference {
  return { ...CONTROLLER_REVISION, name: revision.name, uid: revision.uid };
}

/**
 * Deletes the oldest revisions beyond `spec.revisionHistoryLimit` (never the live, newest one). Background
 * propagation: the garbage collector then deletes ConfigMaps whose owner was one of them.
 */
export async function pruneRevisions(
  kube: KubeAccess,
  namespace: string,
  spec: ComponentSpec,
  revisions: readonly RecordedRevision[],
  fence: () => void,
): Promise<number> {
  const excess = revisions.length - revisionHistoryLimit(spec);
  let deleted = 0;
  for (const old of revisions.slice(0, Math.max(0, excess))) {
    fence();
    try {
      if (await kube.delete({ ...CONTROLLER_REVISION, metadata: { name: old.name, namespace } }, "Background"))
        deleted += 1;
    } catch (err) {
      if (!isStatus(err, 409)) throw err;
    }
  }
  return deleted;
}
