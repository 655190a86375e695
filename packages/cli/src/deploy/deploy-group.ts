import {
  DEPLOY_PROVENANCE_ANNOTATION_KEYS,
  deployProvenanceAnnotations,
  deployProvenanceFromAnnotations,
  type ComponentSpec,
  type DeployProvenance,
} from "@tessera/contract";
import { stringify } from "yaml";
import type { CliIo } from "../cli-io.js";
import type { CliError } from "../cli-error.js";
import { ExitCode } from "../exit-codes.js";
import { liveSpec, sameSpec, type Cluster, type ComponentResource } from "./cluster.js";
import { DeployLocks, type HeldLock } from "./deploy-lock.js";
import { rollbackProvenance } from "./provenance.js";
import { unifiedDiff } from "./unified-diff.js";
import { waitReady, type WaitItem } from "./wait-ready.js";

/** One Component a deploy sends: its validated spec, where it was read from, and the provenance to record. */
export interface DeployUnit {
  name: string;
  spec: ComponentSpec;
  provenance: DeployProvenance;
}

export type DeployAction = "created" | "updated" | "unchanged";

export interface ComponentOutcome {
  name: string;
  namespace: string;
  action: DeployAction;
  /** The live revision before this deploy (absent for a new component). */
  previousRevision?: number;
  /** The revision live after it (absent when it never became ready). */
  revision?: number;
  /** Whether it became ready in this deploy (before any rollback). */
  ready: boolean;
  state: "ready" | "failed" | "timed-out" | "waiting" | "rolled-back" | "deleted" | "would-change" | "unchanged";
  detail: string;
}

export interface ContextOutcome {
  context: string;
  server: string;
  namespace: string;
  outcome: "deployed" | "rolled-back" | "dry-run" | "not-attempted" | "refused";
  components: ComponentOutcome[];
  waitedMs?: number;
  /** `--dry-run`: the unified diff of each changed spec (live → new). */
  diffs?: { name: string; diff: string }[];
  error?: string;
}

export interface DeployGroupOptions {
  timeoutMs: number;
  dryRun: boolean;
  identity: string;
}

/** How long a failed group's rollback waits for the controller to re-point the Deployments it restored. */
const ROLLBACK_REPOINT_WAIT_MS = 60_000;

/**
 * A spec as YAML with sorted keys (the API server re-encodes objects, so order must not look like a change) and no
 * anchors (a diff line reading `labels: *a1` says nothing).
 */
export function specYaml(spec: unknown): string {
  return stringify(spec ?? {}, { sortMapEntries: true, aliasDuplicateObjects: false });
}

interface Planned {
  unit: DeployUnit;
  live: ComponentResource | undefined;
  action: DeployAction;
}

/**
 * Deploys a group of components to one cluster: all of them become ready, or every component this deploy
 * changed goes back to its previous revision (one written new is deleted). Locks every changed component first
 * and writes nothing when one is held; an unchanged component is only read (its lock checked, not taken), so a
 * no-change redeploy makes no write at all.
 */
export async function deployGroup(
  cluster: Cluster,
  namespace: string,
  units: readonly DeployUnit[],
  opts: DeployGroupOptions,
  io: CliIo,
): Promise<ContextOutcome> {
  const label = `[${cluster.context}] `;
  const planned: Planned[] = [];
  for (const unit of units) {
    const live = await cluster.readComponent(namespace, unit.name);
    const action: DeployAction =
      live === undefined ? "created" : sameSpec(liveSpec(live), unit.spec) ? "unchanged" : "updated";
    planned.push({ unit, live, action });
  }
  const base = { context: cluster.context, server: cluster.server, namespace };
  if (opts.dryRun)
    return {
      ...base,
      outcome: "dry-run",
      components: planned.map((p) => ({
        name: p.unit.name,
        namespace,
        action: p.action,
        ...(p.live?.status?.revision !== undefined ? { previousRevision: p.live.status.revision } : {}),
        ready: false,
        state: p.action === "unchanged" ? "unchanged" : "would-change",
        detail: p.action === "unchanged" ? "same spec as the live revision" : `would be ${p.action}`,
      })),
      diffs: planned
        .filter((p) => p.action !== "unchanged")
        .map((p) => ({
          name: p.unit.name,
          diff: unifiedDiff(
            p.live === undefined ? "" : specYaml(p.live.spec),
            specYaml(p.unit.spec),
            p.live === undefined
              ? "/dev/null"
              : `${namespace}/${p.unit.name} (live${p.live.status?.revision !== undefined ? `, revision ${p.live.status.revision}` : ""})`,
            `${namespace}/${p.unit.name} (${p.unit.provenance.sourceFile ?? "new"})`,
          ),
        })),
    };

  const locks = new DeployLocks(cluster.kubeConfig, opts.identity);
  const held: HeldLock[] = [];
  try {
    for (const p of planned)
      if (p.action === "unchanged") await locks.checkFree(namespace, p.unit.name);
      else held.push(await locks.acquire(namespace, p.unit.name));

    const waits: WaitItem[] = [];
    const written = new Map<string, ComponentResource>();
    for (const p of planned) {
      let generation = p.live?.metadata.generation ?? 1;
      if (p.action !== "unchanged") {
        const after = await cluster.writeComponent(
          namespace,
          p.unit.name,
          p.unit.spec,
          deployProvenanceAnnotations(p.unit.provenance),
          DEPLOY_PROVENANCE_ANNOTATION_KEYS,
          p.live,
        );
        written.set(p.unit.name, after);
        generation = after.metadata.generation ?? generation;
        io.stderr.write(
          `${label}${namespace}/${p.unit.name}: ${p.action} (generation ${generation}${
            p.live?.status?.revision !== undefined ? `, was revision ${p.live.status.revision}` : ""
          }); waiting for the controller\n`,
        );
      } else io.stderr.write(`${label}${namespace}/${p.unit.name}: unchanged (same spec as the live revision)\n`);
      waits.push({ namespace, name: p.unit.name, target: { generation, image: p.unit.spec.image } });
    }

    const waited = await waitReady(cluster, waits, opts.timeoutMs, io.stderr, label);
    const outcomes: ComponentOutcome[] = planned.map((p) => {
      const r = waited.readiness.get(`${namespace}/${p.unit.name}`);
      return {
        name: p.unit.name,
        namespace,
        action: p.action,
        ...(p.live?.status?.revision !== undefined ? { previousRevision: p.live.status.revision } : {}),
        ...(r?.state === "ready" && r.revision !== undefined ? { revision: r.revision } : {}),
        ready: r?.state === "ready",
        state:
          r?.state === "ready" ? "ready" : r?.state === "failed" ? "failed" : waited.timedOut ? "timed-out" : "waiting",
        detail: r?.detail ?? "",
      };
    });
    if (outcomes.every((o) => o.state === "ready"))
      return { ...base, outcome: "deployed", components: outcomes, waitedMs: waited.ms };

    const restored: { outcome: ComponentOutcome; image: string }[] = [];
    // Not all ready: put back every component this deploy changed, the ready ones too (a group moves together).
    for (const [i, p] of planned.entries()) {
      const o = outcomes[i]!;
      if (p.action === "unchanged") continue;
      if (p.live === undefined) {
        await cluster.deleteComponent(namespace, p.unit.name);
        o.detail = `${o.state}: ${o.detail}; deleted (it was new in this deploy)`;
        o.state = "deleted";
        continue;
      }
      const previous = liveSpec(p.live) ?? (p.live.spec as ComponentSpec);
      await cluster.writeComponent(
        namespace,
        p.unit.name,
        previous,
        deployProvenanceAnnotations(
          rollbackProvenance(
            deployProvenanceFromAnnotations(p.live.metadata.annotations),
            p.unit.provenance.deployedBy ?? "unknown",
            p.live.status?.revision,
          ),
        ),
        DEPLOY_PROVENANCE_ANNOTATION_KEYS,
        written.get(p.unit.name) ?? p.live,
      );
      o.detail = `${o.state}: ${o.detail}; rolled back${
        p.live.status?.revision !== undefined ? ` to revision ${p.live.status.revision}` : " to the previous spec"
      }`;
      o.state = "rolled-back";
      restored.push({ outcome: o, image: previous.image });
    }
    // The rollback is only done once the controller re-pointed each Deployment: say whether that happened.
    const deadline = Date.now() + Math.min(opts.timeoutMs, ROLLBACK_REPOINT_WAIT_MS);
    for (const r of restored) {
      for (;;) {
        const d = await cluster.readDeployment(namespace, r.outcome.name);
        if (d?.spec?.template?.spec?.containers?.[0]?.image === r.image) {
          r.outcome.detail += " (Deployment re-pointed)";
          break;
        }
        if (Date.now() > deadline) {
          r.outcome.detail += " (written; the Deployment was not re-pointed yet)";
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    return { ...base, outcome: "rolled-back", components: outcomes, waitedMs: waited.ms };
  } finally {
    for (const lock of held) await lock.release();
  }
}

/** A lock refusal (or any CliError) of one context, for the per-context report. */
export function refusedContext(cluster: Cluster, namespace: string, err: CliError): ContextOutcome {
  return {
    context: cluster.context,
    server: cluster.server,
    namespace,
    outcome: "refused",
    components: [],
    error: [err.message, ...err.details].join("\n  "),
  };
}

/** The exit code of a whole deploy from its per-context outcomes. */
export function deployExitCode(outcomes: readonly ContextOutcome[], refusal: CliError | undefined): ExitCode {
  if (refusal !== undefined) return refusal.exitCode;
  return outcomes.every((o) => o.outcome === "deployed" || o.outcome === "dry-run") ? ExitCode.Ok : ExitCode.Failed;
}
