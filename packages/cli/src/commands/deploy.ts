import { ENVIRONMENT_VARIABLE, enforceGuardRails, parseEnvironment } from "@tessera/contract";
import type { Command } from "commander";
import type { CliIo } from "../cli-io.js";
import { CliError, ExitStatus, usageError } from "../cli-error.js";
import { ExitCode } from "../exit-codes.js";
import { Cluster } from "../deploy/cluster.js";
import {
  deployExitCode,
  deployGroup,
  refusedContext,
  type ContextOutcome,
  type DeployUnit,
} from "../deploy/deploy-group.js";
import { lockHolderIdentity } from "../deploy/deploy-lock.js";
import { clusterOptions, loadDeployUnits } from "../deploy/load-units.js";
import { durationMs } from "../options/parsers.js";
import { formatDuration } from "../output/format.js";
import { writeJson } from "../output/json.js";
import { styleFor, type Style } from "../output/style.js";
import { renderTable } from "../output/table.js";

interface DeployOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  timeout: number;
  dryRun?: boolean;
  json?: boolean;
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;

function paint(state: string, style: Style): string {
  if (state === "ready" || state === "unchanged") return style.green(state);
  if (state === "would-change") return style.yellow(state);
  return style.red(state);
}

function printContext(o: ContextOutcome, io: CliIo, style: Style): void {
  io.stdout.write(`context ${o.context} (${o.server}), namespace ${o.namespace}: ${o.outcome}\n`);
  if (o.error !== undefined) io.stdout.write(`  ${o.error}\n`);
  if (o.components.length > 0)
    io.stdout.write(
      renderTable(
        ["component", "action", "revision", "state", "detail"],
        o.components.map((c) => [
          c.name,
          c.action,
          c.revision !== undefined
            ? `${c.previousRevision !== undefined && c.previousRevision !== c.revision ? `${c.previousRevision} → ` : ""}${c.revision}`
            : c.previousRevision !== undefined
              ? `${c.previousRevision}`
              : "-",
          paint(c.state, style),
          c.detail,
        ]),
        style,
      ),
    );
  for (const d of o.diffs ?? []) io.stdout.write(d.diff === "" ? `${d.name}: no change\n` : d.diff);
}

/** The one-line verdict of a whole deploy, on stderr after the tables. */
function summary(group: string, units: readonly DeployUnit[], outcomes: readonly ContextOutcome[]): string {
  const parts = outcomes.map((o) => {
    if (o.outcome === "deployed")
      return `${o.context}: all ${o.components.length} ready${o.waitedMs !== undefined ? ` in ${formatDuration(o.waitedMs)}` : ""}`;
    if (o.outcome === "rolled-back") {
      const bad = o.components.filter((c) => !c.ready).map((c) => c.name);
      return `${o.context}: not all ready (${bad.join(", ")}), the group was rolled back`;
    }
    return `${o.context}: ${o.outcome}`;
  });
  return `deploy of ${group} (${units.length} component${units.length === 1 ? "" : "s"}): ${parts.join("; ")}`;
}

export function registerDeployCommand(program: Command, io: CliIo): void {
  clusterOptions(
    program
      .command("deploy")
      .description(
        "apply Components to the cluster as one group, record provenance, and wait until every one is ready (or roll the group back)",
      )
      .argument("<targets...>", "a project directory (tessera.project.ts) or Component manifest files"),
    "kubeconfig context, or several separated by commas: deployed in that order, stopping at the first failure",
  )
    .option("--timeout <duration>", "how long to wait for the group to become ready (e.g. 90s, 5m)", durationMs)
    .option("--dry-run", "print what would change (a unified diff of each spec, live → new) and write nothing")
    .option("--json", "print a machine-readable report instead of tables")
    .addHelpText(
      "after",
      `
A deploy locks each component it changes (Lease tessera-deploy-<name>), writes the Components with provenance
annotations (who, git commit and dirty flag, when, source file, Tessera version), then waits until the controller
has recorded the new revision and the Deployment is rolled out and ready, or scaled to zero by KEDA and healthy.
A component whose spec equals the live one is not written at all. If one component of the group fails or the
timeout passes, every component this deploy changed goes back to its previous revision (new ones are deleted).

Examples:
  $ tessera deploy examples/documents --namespace docs
  $ tessera deploy components/extract.yaml --dry-run
  $ tessera deploy components/*.yaml --context staging,production --timeout 10m

Exit codes: 0 all ready (or --dry-run), 1 not ready in time or failed (the group was rolled back), 2 usage error,
3 cannot reach the API server, 5 conflict (changed by someone else meanwhile), 6 locked by another deploy.`,
    )
    .action(async (targets: string[], opts: DeployOptions) => {
      const contexts = opts.context === undefined ? [undefined] : opts.context.split(",").map((c) => c.trim());
      if (contexts.some((c) => c === "")) throw usageError("--context: expected names separated by commas, e.g. a,b");
      let environment;
      try {
        environment = parseEnvironment(io.env[ENVIRONMENT_VARIABLE]);
      } catch (err) {
        throw usageError((err as Error).message);
      }
      const { group, units } = await loadDeployUnits(targets, io);
      enforceGuardRails(
        environment,
        { manifests: units.map((u) => ({ name: u.name, spec: u.spec })) },
        (f) => io.stderr.write(`warning: ${environment}: [${f.rule}] ${f.message}\n`),
        "deploy",
      );
      // Every context is checked before anything is written: a typo in the second must not leave half a rollout.
      const clusters = contexts.map((context) =>
        Cluster.load({
          ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
          ...(context !== undefined ? { context } : {}),
          ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
        }),
      );
      const outcomes: ContextOutcome[] = [];
      let refusal: CliError | undefined;
      for (const cluster of clusters) {
        const namespace = opts.namespace ?? cluster.namespace;
        const stopped =
          refusal !== undefined || outcomes.some((o) => o.outcome !== "deployed" && o.outcome !== "dry-run");
        if (stopped) {
          outcomes.push({
            context: cluster.context,
            server: cluster.server,
            namespace,
            outcome: "not-attempted",
            components: [],
            error: "not attempted: an earlier context failed",
          });
          continue;
        }
        try {
          outcomes.push(
            await deployGroup(
              cluster,
              namespace,
              units,
              {
                timeoutMs: opts.timeout ?? DEFAULT_TIMEOUT_MS,
                dryRun: opts.dryRun === true,
                identity: lockHolderIdentity(io.env),
              },
              io,
            ),
          );
        } catch (err) {
          if (!(err instanceof CliError) || clusters.length === 1) throw err;
          refusal = err;
          outcomes.push(refusedContext(cluster, namespace, err));
        }
      }
      if (opts.json === true) writeJson(io.stdout, { group, dryRun: opts.dryRun === true, contexts: outcomes });
      else {
        const style = styleFor(io.stdout, io.env);
        for (const o of outcomes) printContext(o, io, style);
        io.stderr.write(`${summary(group, units, outcomes)}\n`);
      }
      const code = deployExitCode(outcomes, refusal);
      if (code !== ExitCode.Ok) throw new ExitStatus(code);
    });
}
