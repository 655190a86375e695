import type { Maturity } from "./component-spec.js";

/** The build a process runs: what `/healthz` answers, `tessera_build_info` labels and manifests are annotated with. */
export interface BuildInfo {
  version: string;
  commit: string;
}

/**
 * The build, from the environment the image sets (the deploy pipeline knows the version and commit; the
 * running code cannot find them out by itself once bundled): `TESSERA_VERSION`, `TESSERA_COMMIT`, else
 * `dev` and `unknown`. The one source for every process's `/healthz` and `tessera_build_info`.
 */
export function buildInfo(env: Readonly<Record<string, string | undefined>>): BuildInfo {
  const pick = (v: string | undefined, fallback: string): string => (v === undefined || v === "" ? fallback : v);
  return { version: pick(env["TESSERA_VERSION"], "dev"), commit: pick(env["TESSERA_COMMIT"], "unknown") };
}

/**
 * Every field Tessera annotates objects with: the build and maturity on every rendered object, the deploy
 * provenance a deploy stamps on the Component (docs/deploy.md#revisions-and-config), the config hash on pod templates.
 */
export const ANNOTATION_FIELDS = [
  "version",
  "commit",
  "maturity",
  "deployed-by",
  "git-commit",
  "git-dirty",
  "deployed-at",
  "source-file",
  "tessera-version",
  "rollback-of",
  "config-hash",
] as const;
export type AnnotationField = (typeof ANNOTATION_FIELDS)[number];

/** The annotation for `field` (one naming rule: `tessera.dev/<field>`). */
export function tesseraAnnotation(field: AnnotationField): string {
  return `tessera.dev/${field}`;
}

/** The provenance annotations of a rendered object: the build that rendered it, and the component's maturity. */
export function provenanceAnnotations(build: BuildInfo, maturity: Maturity): Record<string, string> {
  return {
    [tesseraAnnotation("version")]: build.version,
    [tesseraAnnotation("commit")]: build.commit,
    [tesseraAnnotation("maturity")]: maturity,
  };
}
