import { existsSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import type { Command } from "commander";
import type { CliIo } from "../cli-io.js";
import { ExitStatus } from "../cli-error.js";
import {
  formatManifestProblem,
  loadComponentManifests,
  manifestExitCode,
} from "../manifests/load-component-manifests.js";
import { PROJECT_FILE, loadProject } from "../project/load-project.js";
import type { DeployUnit } from "./deploy-group.js";
import { GitFacts, provenanceFor } from "./provenance.js";

/** The kubeconfig flags every cluster command takes (`--context` may be a list where the command says so). */
export function clusterOptions(
  command: Command,
  contextHelp = "kubeconfig context (default: its current one)",
): Command {
  return command
    .option("--kubeconfig <file>", "kubeconfig to use (default KUBECONFIG, else ~/.kube/config)")
    .option("--context <name>", contextHelp)
    .option("-n, --namespace <ns>", "namespace of the Components (default: the context's namespace, else default)");
}

/**
 * What one `tessera deploy` sends, as one group: a project (a directory holding tessera.project.ts, or that
 * file) or Component manifest files. Every unit carries its provenance, stamped now.
 */
export async function loadDeployUnits(
  targets: readonly string[],
  io: CliIo,
): Promise<{ group: string; units: DeployUnit[] }> {
  const facts = new GitFacts();
  const now = new Date();
  const first = targets[0] !== undefined ? resolve(targets[0]) : undefined;
  const isProject =
    targets.length === 1 &&
    first !== undefined &&
    existsSync(first) &&
    (statSync(first).isDirectory() || basename(first) === PROJECT_FILE);
  if (isProject) {
    const project = await loadProject(first);
    const units = await Promise.all(
      project.components.map(async (c, i) => {
        const file = resolve(project.dir, project.definition.components[i]?.manifest ?? project.file);
        return { name: c.name, spec: c.spec, provenance: await provenanceFor(file, io.env, facts, now) };
      }),
    );
    return { group: project.definition.name, units };
  }
  const { manifests, problems } = await loadComponentManifests(targets.map((t) => resolve(t)));
  if (problems.length > 0) {
    for (const p of problems) io.stderr.write(`${formatManifestProblem(p)}\n`);
    throw new ExitStatus(manifestExitCode(problems));
  }
  const units = await Promise.all(
    manifests.map(async (m) => ({
      name: m.name,
      spec: m.spec,
      provenance: await provenanceFor(m.file, io.env, facts, now),
    })),
  );
  return { group: units.map((u) => u.name).join(","), units };
}
