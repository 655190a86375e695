import type { ConfigClass } from "@tessera/contract";
import type { ChainHook, KeyLimits, SubmitInput } from "@tessera/coordinator";

/**
 * A Tessera project: what `tessera dev` runs. Paths are relative to the project file
 * (`tessera.project.ts` in the project directory).
 */
export interface ProjectDefinition {
  name: string;
  components: ProjectComponent[];
  /** Shared config stamped into every job envelope (overridable by env/file/db settings). */
  sharedConfig?: Record<string, unknown>;
  /** The class of each shared setting (default internal; never secret, see docs/contract.md#config-classes). */
  sharedConfigClasses?: Record<string, ConfigClass>;
  /** Per component: runs when one of its jobs completes; may submit follow-up jobs (chaining). */
  onCompleted?: Record<string, ChainHook>;
  /** Sample jobs `tessera dev --samples` submits and reports on (a function is called once, at startup). */
  samples?: ProjectSample[] | (() => ProjectSample[] | Promise<ProjectSample[]>);
  /** Per component: a one-line summary of a completed job's output for `tessera dev`'s results table. */
  summarize?: Record<string, (output: unknown) => string>;
}

export interface ProjectComponent {
  /** A Component manifest (YAML or JSON: apiVersion tessera.dev/v1alpha1, kind Component, metadata.name, spec). */
  manifest: string;
  /** A module whose default export is the ComponentDefinition (from defineComponent). */
  module: string;
  /** Per-key concurrency and rate limits enforced by the coordinator at dispatch. */
  limits?: KeyLimits;
}

export interface ProjectSample {
  component: string;
  input: SubmitInput;
  /** A short name shown in the results table (e.g. the file name). */
  label: string;
  metadata?: Record<string, string>;
  contentType?: string;
  /** How this sample should end (default "completed"); `tessera dev --samples --exit` exits 1 when one ends otherwise. */
  expect?: "completed" | "failed";
}

/** Identity at run time; gives the project file its types. */
export function defineProject(project: ProjectDefinition): ProjectDefinition {
  return project;
}
