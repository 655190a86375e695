import {
  CONFIG_HASH_ANNOTATION,
  DEPLOY_PROVENANCE_ANNOTATION_KEYS,
  deployProvenanceAnnotations,
} from "@tessera/contract";
import type { Command } from "commander";
import type { CliIo } from "../cli-io.js";
import { CliError } from "../cli-error.js";
import { ExitCode } from "../exit-codes.js";
import { Cluster, type DeploymentResource } from "../deploy/cluster.js";
import { DeployLocks, lockHolderIdentity } from "../deploy/deploy-lock.js";
import { clusterOptions } from "../deploy/load-units.js";
import { rollbackProvenance, whoDeploys } from "../deploy/provenance.js";
import { listRevisions, type RevisionView } from "../deploy/revisions.js";
import { waitReady } from "../deploy/wait-ready.js";
import { durationMs, positiveInteger } from "../options/parsers.js";
import { formatDuration } from "../output/format.js";
import { writeJson } from "../output/json.js";

interface RollbackOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  to?: number;
  wait?: boolean;
  timeout?: number;
  json?: boolean;
}

/**
 * Whether the live Deployment runs `target`: its image, and its config (the pod template's config-hash annotation,
 * where the controller renders one).
 */
export function deploymentRunsRevision(deployment: DeploymentResource | undefined, target: RevisionView): boolean {
  const template = deployment?.spec?.template;
  if (template?.spec?.containers?.[0]?.image !== target.spec.image) return false;
  const hash = template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
  return hash === undefined || hash === target.config.hash;
}

export function registerRollbackCommand(program: Command, io: CliIo): void {
  clusterOptions(
    program
      .command("rollback")
      .description(
        "re-point a component to an earlier revision: its spec is applied in one write, recorded as a new revision",
      )
      .argument("<component>", "the Component's name"),
  )
    .option(
      "--to <revision>",
      "the revision to go back to (default: the one before the live revision)",
      positiveInteger(Number.MAX_SAFE_INTEGER),
    )
    .option("--wait", "also wait until the rolled-back revision is ready (rolled out, or scaled to zero and healthy)")
    .option("--timeout <duration>", "how long to wait for the re-point (and with --wait, readiness)", durationMs)
    .option("--json", "print a machine-readable report")
    .addHelpText(
      "after",
      `
The command measures and prints the time from its start until the Deployment on the API server runs the
target revision (its image and config). History stays linear: rolling back to 3 from 5 records revision 6.

Examples:
  $ tessera rollback extract -n docs
  $ tessera rollback extract -n docs --to 3 --wait

Exit codes: 0 ok, 1 not re-pointed (or not ready with --wait) in time, 2 usage error, 3 cannot reach the API
server, 4 component or revision not found, 5 conflict (changed meanwhile), 6 locked by a deploy.`,
    )
    .action(async (component: string, opts: RollbackOptions) => {
      const started = performance.now();
      const cluster = Cluster.load(opts);
      const namespace = opts.namespace ?? cluster.namespace;
      const live = await cluster.requireComponent(namespace, component);
      const revisions = await listRevisions(cluster, namespace, component);
      // Before the controller has reported one, the newest recorded revision is the live one.
      const current = live.status?.revision ?? revisions.at(-1)?.revision;
      const target =
        opts.to !== undefined
          ? revisions.find((r) => r.revision === opts.to)
          : [...revisions].reverse().find((r) => current !== undefined && r.revision < current);
      if (target === undefined)
        throw new CliError(
          opts.to !== undefined
            ? `component ${namespace}/${component} has no revision ${opts.to} (it has ${revisions.map((r) => r.revision).join(", ") || "none"})`
            : `component ${namespace}/${component} has no revision before the live one (${current ?? "none"}) to go back to`,
          ExitCode.NotFound,
        );
      if (target.revision === current)
        throw new CliError(
          `revision ${target.revision} is already live for ${namespace}/${component}`,
          ExitCode.Conflict,
        );

      const lock = await new DeployLocks(cluster.kubeConfig, lockHolderIdentity(io.env)).acquire(namespace, component);
      const timeoutMs = opts.timeout ?? 5 * 60_000;
      try {
        const written = await cluster.writeComponent(
          namespace,
          component,
          target.spec,
          deployProvenanceAnnotations(rollbackProvenance(target.provenance, await whoDeploys(io.env), target.revision)),
          DEPLOY_PROVENANCE_ANNOTATION_KEYS,
          live,
        );
        const writtenMs = performance.now() - started;
        io.stderr.write(
          `${namespace}/${component}: re-pointing from revision ${current ?? "?"} to ${target.revision} (${target.spec.image}); written in ${formatDuration(writtenMs)}\n`,
        );
        let repointedMs: number | undefined;
        while (performance.now() - started < timeoutMs) {
          if (deploymentRunsRevision(await cluster.readDeployment(namespace, component), target)) {
            repointedMs = performance.now() - started;
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        if (repointedMs === undefined)
          throw new CliError(
            `rollback written, but after ${formatDuration(timeoutMs)} Deployment ${namespace}/${component} does not run revision ${target.revision} yet`,
            ExitCode.Failed,
          );
        let ready: string | undefined;
        if (opts.wait === true) {
          const waited = await waitReady(
            cluster,
            [
              {
                namespace,
                name: component,
                target: { generation: written.metadata.generation ?? 0, image: target.spec.image },
              },
            ],
            Math.max(1, timeoutMs - (performance.now() - started)),
            io.stderr,
            "",
          );
          const r = waited.readiness.get(`${namespace}/${component}`);
          if (r?.state !== "ready")
            throw new CliError(
              `rolled back to revision ${target.revision}, but it is not ready: ${r?.detail ?? "unknown"}`,
              ExitCode.Failed,
            );
          ready = r.detail;
        }
        const result = {
          component,
          namespace,
          from: current ?? null,
          to: target.revision,
          image: target.spec.image,
          writtenMs: Math.round(writtenMs),
          repointedMs: Math.round(repointedMs),
          ...(ready !== undefined ? { ready } : {}),
        };
        if (opts.json === true) return writeJson(io.stdout, result);
        io.stdout.write(
          `rolled back ${namespace}/${component} from revision ${current ?? "?"} to ${target.revision} (${target.spec.image}): Deployment re-pointed ${formatDuration(repointedMs)} after the command started${
            ready !== undefined ? `; ready: ${ready}` : ""
          }\n`,
        );
      } finally {
        await lock.release();
      }
    });
}
