// PLACEHOLDER until @tessera/contract's deploy-revision.ts lands: the keys below get replaced by its exports.
import type { DeployProvenance } from "./provenance.js";

const KEYS = {
  deployedBy: "tessera.dev/deployed-by",
  gitCommit: "tessera.dev/git-commit",
  gitDirty: "tessera.dev/git-dirty",
  deployedAt: "tessera.dev/deployed-at",
  sourceFile: "tessera.dev/source-file",
  tesseraVersion: "tessera.dev/tessera-version",
  rollbackOf: "tessera.dev/rollback-of",
} as const;

export const PROVENANCE_ANNOTATION_KEYS: readonly string[] = Object.values(KEYS);

export function provenanceAnnotations(p: DeployProvenance): Record<string, string> {
  return {
    [KEYS.deployedBy]: p.deployedBy,
    [KEYS.gitCommit]: p.gitCommit,
    [KEYS.gitDirty]: String(p.gitDirty),
    [KEYS.deployedAt]: p.deployedAt,
    [KEYS.sourceFile]: p.sourceFile,
    [KEYS.tesseraVersion]: p.tesseraVersion,
  };
}

export function rollbackAnnotations(
  origin: Record<string, string>,
  deployedBy: string,
  rollbackOf: number | undefined,
): Record<string, string> {
  return {
    ...origin,
    [KEYS.deployedBy]: deployedBy,
    [KEYS.deployedAt]: new Date().toISOString(),
    ...(rollbackOf !== undefined ? { [KEYS.rollbackOf]: String(rollbackOf) } : {}),
  };
}

export interface RecordedProvenance {
  deployedBy?: string;
  deployedAt?: string;
  gitCommit?: string;
  gitDirty?: string;
  sourceFile?: string;
  tesseraVersion?: string;
  rollbackOf?: string;
}

export function readProvenance(annotations: Record<string, string> | undefined): RecordedProvenance {
  const a = annotations ?? {};
  const out: RecordedProvenance = {};
  for (const [field, key] of Object.entries(KEYS)) {
    const value = a[key];
    if (value !== undefined) out[field as keyof RecordedProvenance] = value;
  }
  return out;
}

export function revisionSelector(component: string): string {
  return `tessera.dev/component=${component}`;
}

export function recordedAnnotations(p: RecordedProvenance): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, key] of Object.entries(KEYS)) {
    const value = p[field as keyof RecordedProvenance];
    if (value !== undefined && field !== "rollbackOf") out[key] = value;
  }
  return out;
}
