import { createHash } from "node:crypto";
import { Type, type Static } from "@sinclair/typebox";
import { tesseraAnnotation } from "./build-info.js";
import { ComponentDefaults, ComponentSpecSchema, type ComponentSpec } from "./component-spec.js";
import { compileValidator } from "./validation-error.js";

/**
 * Deploy revisions (docs/decisions/0038-deploy-revisions.md): every deploy of a Component is a numbered, immutable
 * revision the cluster keeps as a `ControllerRevision` owned by the Component; its config lives in a content-hashed
 * ConfigMap with `immutable: true`. The controller writes revisions; `tessera versions` / `rollback` read them.
 */

/** The label on every object rendered for a component (and on its revisions): its name. */
export const COMPONENT_LABEL = "tessera.dev/component";
/** The label carrying a ControllerRevision's deploy revision number (`tessera.dev/revision` is the canary's). */
export const DEPLOY_REVISION_LABEL = "tessera.dev/deploy-revision";
/** The pod-template annotation holding the config hash: a changed overlay changes the template, so pods roll. */
export const CONFIG_HASH_ANNOTATION = tesseraAnnotation("config-hash");

/** Who deployed what from where: stamped on the Component by `tessera deploy`, copied by the controller. */
export const DeployProvenanceSchema = Type.Object(
  {
    deployedBy: Type.Optional(Type.String()),
    /** The commit of the spec file's repository ("unknown" outside a git work tree). */
    gitCommit: Type.Optional(Type.String()),
    /** Whether that work tree had uncommitted changes. */
    gitDirty: Type.Optional(Type.Union([Type.Literal("true"), Type.Literal("false"), Type.Literal("unknown")])),
    /** RFC 3339. */
    deployedAt: Type.Optional(Type.String()),
    sourceFile: Type.Optional(Type.String()),
    tesseraVersion: Type.Optional(Type.String()),
    /** The revision a rollback re-points to (the rollback itself is recorded as a new revision). */
    rollbackOf: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
export type DeployProvenance = Static<typeof DeployProvenanceSchema>;

/** Each provenance field's annotation key (`tessera.dev/deployed-by`, …). */
export const DEPLOY_PROVENANCE_ANNOTATIONS = {
  deployedBy: tesseraAnnotation("deployed-by"),
  gitCommit: tesseraAnnotation("git-commit"),
  gitDirty: tesseraAnnotation("git-dirty"),
  deployedAt: tesseraAnnotation("deployed-at"),
  sourceFile: tesseraAnnotation("source-file"),
  tesseraVersion: tesseraAnnotation("tessera-version"),
  rollbackOf: tesseraAnnotation("rollback-of"),
} as const satisfies Record<keyof DeployProvenance, string>;
export const DEPLOY_PROVENANCE_ANNOTATION_KEYS: readonly string[] = Object.values(DEPLOY_PROVENANCE_ANNOTATIONS);

/** Provenance as annotations (only the fields it has). */
export function deployProvenanceAnnotations(p: DeployProvenance): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, key] of Object.entries(DEPLOY_PROVENANCE_ANNOTATIONS) as Array<[keyof DeployProvenance, string]>) {
    const value = p[field];
    if (value !== undefined) out[key] = String(value);
  }
  return out;
}

/** Provenance from an object's annotations; a value of the wrong form (hand-edited) is left out, never thrown on. */
export function deployProvenanceFromAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
): DeployProvenance {
  const a = annotations ?? {};
  const out: DeployProvenance = {};
  const text = (field: "deployedBy" | "gitCommit" | "deployedAt" | "sourceFile" | "tesseraVersion"): void => {
    const value = a[DEPLOY_PROVENANCE_ANNOTATIONS[field]];
    if (value !== undefined) out[field] = value;
  };
  text("deployedBy");
  text("gitCommit");
  text("deployedAt");
  text("sourceFile");
  text("tesseraVersion");
  const dirty = a[DEPLOY_PROVENANCE_ANNOTATIONS.gitDirty];
  if (dirty === "true" || dirty === "false" || dirty === "unknown") out.gitDirty = dirty;
  const rollbackOf = a[DEPLOY_PROVENANCE_ANNOTATIONS.rollbackOf];
  if (rollbackOf !== undefined && /^[1-9][0-9]{0,15}$/.test(rollbackOf)) out.rollbackOf = Number(rollbackOf);
  return out;
}

/** Where a revision's config lives: the hash of the effective config and its immutable ConfigMap. */
export const RevisionConfigSchema = Type.Object(
  {
    /** sha256 (hex) of the effective config: spec.config with the overlay merged over (canary: its config too). */
    hash: Type.String({ pattern: "^[0-9a-f]{64}$" }),
    configMapName: Type.String({ minLength: 1, maxLength: 253 }),
  },
  { additionalProperties: false },
);
export type RevisionConfig = Static<typeof RevisionConfigSchema>;

/** A ControllerRevision's `data`: what one deploy revision ran. */
export const DeployRevisionDataSchema = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    /** The Component spec as deployed, normalized (`normalizeSpec`). */
    spec: ComponentSpecSchema,
    /** `specHash(spec)`. */
    specHash: Type.String({ pattern: "^[0-9a-f]{64}$" }),
    /**
     * `revisionContentHash` of what the Component declared when this revision was recorded (spec and overlay
     * data, no provenance): the controller records a new revision only when the live one's differs.
     */
    contentHash: Type.String({ pattern: "^[0-9a-f]{64}$" }),
    provenance: DeployProvenanceSchema,
    /** The effective config of the stable workers (config values are never secret: docs/contract.md#config-classes). */
    effectiveConfig: Type.Record(Type.String(), Type.String()),
    config: RevisionConfigSchema,
    /** The canary's config, when the spec has a canary. */
    canaryConfig: Type.Optional(RevisionConfigSchema),
    /** The overlay ConfigMap merged in, by name, and the sha256 of its data. */
    overlay: Type.Optional(
      Type.Object(
        { name: Type.String({ minLength: 1, maxLength: 253 }), dataHash: Type.String({ pattern: "^[0-9a-f]{64}$" }) },
        { additionalProperties: false },
      ),
    ),
    /** Every image the revision runs: the component's, then the canary's when it differs. */
    images: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type DeployRevisionData = Static<typeof DeployRevisionDataSchema>;
export const decodeDeployRevisionData = compileValidator<DeployRevisionData>(
  DeployRevisionDataSchema,
  "deploy revision data",
);

/** The deploy fields of a Component's status (the controller writes them; `tessera list` reads them). */
export const DeployStatusSchema = Type.Object({
  /** The live deploy revision's number. */
  revision: Type.Optional(Type.Integer({ minimum: 1, description: "The live deploy revision." })),
  /** The immutable ConfigMap the live revision's stable workers read their config from. */
  configMapName: Type.Optional(
    Type.String({ maxLength: 253, description: "The live revision's content-hashed ConfigMap." }),
  ),
});
export type DeployStatus = Static<typeof DeployStatusSchema>;

/** A ControllerRevision's name: `<component>-r<N>`. A component name is a DNS label (≤ 63), so it always fits. */
export function deployRevisionName(component: string, revision: number): string {
  return `${component}-r${revision}`;
}

/** The label selector of a component's deploy revisions (ControllerRevisions of other owners never carry both). */
export function deployRevisionSelector(component: string): string {
  return `${COMPONENT_LABEL}=${component},${DEPLOY_REVISION_LABEL}`;
}

/** The fields of a ControllerRevision a deploy revision is read from (as the API server or a client returns it). */
export interface ControllerRevisionFields {
  metadata: { name: string; uid?: string; creationTimestamp?: string | Date; labels?: Record<string, string> };
  revision?: number;
  data?: unknown;
}

/** One deploy revision as the cluster keeps it: its ControllerRevision's name, uid and number, and its record. */
export interface RecordedDeployRevision {
  name: string;
  uid: string | undefined;
  revision: number;
  /** RFC 3339; empty when the object carries no creation time. */
  createdAt: string;
  data: DeployRevisionData;
}

/**
 * The deploy revisions among ControllerRevisions, oldest first. One whose data is not a deploy revision record, or
 * that has no revision number (in the object, else in its label), is left out: the controller and the CLI read
 * history through this one function.
 */
export function recordedDeployRevisions(items: readonly ControllerRevisionFields[]): RecordedDeployRevision[] {
  const out: RecordedDeployRevision[] = [];
  for (const item of items) {
    const data = decodeDeployRevisionData(item.data);
    const revision = revisionNumber(item);
    if (!data.ok || revision === undefined) continue;
    const created = item.metadata.creationTimestamp;
    out.push({
      name: item.metadata.name,
      uid: item.metadata.uid,
      revision,
      createdAt: created instanceof Date ? created.toISOString() : (created ?? ""),
      data: data.value,
    });
  }
  return out.sort((a, b) => a.revision - b.revision);
}

function revisionNumber(item: ControllerRevisionFields): number | undefined {
  const labelled = Number(item.metadata.labels?.[DEPLOY_REVISION_LABEL]);
  const n = typeof item.revision === "number" && item.revision > 0 ? item.revision : labelled;
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** The labels of a component's revision `revision`. */
export function deployRevisionLabels(component: string, revision: number): Record<string, string> {
  return { [COMPONENT_LABEL]: component, [DEPLOY_REVISION_LABEL]: String(revision) };
}

/** JSON with object keys sorted at every depth and undefined members dropped: the same value, the same text. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : stableJson(v))).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * A spec as the API server keeps it: the CRD's defaults applied (a spec from a file and the same spec read back
 * from the cluster hash alike). Keys are ordered by `stableJson`, not here.
 */
export function normalizeSpec(spec: ComponentSpec): ComponentSpec {
  return { ...spec, inputMode: spec.inputMode ?? "content-ref", egress: spec.egress ?? "none" };
}

/**
 * sha256 of the normalized spec, without `revisionHistoryLimit` (how much history to keep is not what runs):
 * two specs with the same hash deploy the same thing.
 */
export function specHash(spec: ComponentSpec): string {
  const { revisionHistoryLimit: _history, ...rest } = normalizeSpec(spec);
  return sha256(stableJson(rest));
}

/** sha256 of a config map's data. */
export function configHash(config: Readonly<Record<string, string>>): string {
  return sha256(stableJson(config));
}

/** The immutable ConfigMap holding config with hash `hash`: `<component>-config-<first 10 hex digits>`. */
export function configMapName(component: string, hash: string): string {
  return `${component}-config-${hash.slice(0, 10)}`;
}

/** spec.config with the overlay's data merged over it (an overlay key replaces the spec's value). */
export function effectiveConfig(
  config: Readonly<Record<string, string>> | undefined,
  overlay: Readonly<Record<string, string>> | undefined,
): Record<string, string> {
  return { ...(config ?? {}), ...(overlay ?? {}) };
}

/** What decides whether a Component declares something new: its spec hash and its overlay's data, no provenance. */
export function revisionContentHash(
  spec: ComponentSpec,
  overlayData: Readonly<Record<string, string>> | undefined,
): string {
  return sha256(
    stableJson({ spec: specHash(spec), overlay: overlayData === undefined ? null : configHash(overlayData) }),
  );
}

/** The revisions a component keeps: `spec.revisionHistoryLimit`, default 10. */
export function revisionHistoryLimit(spec: ComponentSpec): number {
  return spec.revisionHistoryLimit ?? ComponentDefaults.revisionHistoryLimit;
}
