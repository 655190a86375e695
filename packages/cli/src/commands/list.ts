import { DEFAULT_MATURITY, deployProvenanceFromAnnotations } from "@tessera/contract";
import { COMPONENT_NAME_LABEL } from "@tessera/controller";
import type { Command } from "commander";
import type { CliIo } from "../cli-io.js";
import { usageError } from "../cli-error.js";
import { Cluster, liveSpec, type ComponentResource, type DeploymentResource } from "../deploy/cluster.js";
import { clusterOptions } from "../deploy/load-units.js";
import { kubeError } from "../secrets/kube-secrets.js";
import { formatAge } from "../output/format.js";
import { writeJson } from "../output/json.js";
import { styleFor } from "../output/style.js";
import { renderTable } from "../output/table.js";

interface ListOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  allNamespaces?: boolean;
  json?: boolean;
}

/** "example/extract:2" → "2", "reg:5000/x" → "latest", "x@sha256:abcd…" → "sha256:abcd1234": what a person calls the version. */
export function imageVersion(image: string | undefined): string {
  if (image === undefined) return "-";
  const at = image.indexOf("@");
  if (at >= 0) return image.slice(at + 1, at + 1 + "sha256:".length + 12);
  const colon = image.lastIndexOf(":");
  return colon > image.lastIndexOf("/") ? image.slice(colon + 1) : "latest";
}

export interface ListRow {
  component: string;
  namespace: string;
  revision: number | null;
  image: string | null;
  version: string;
  maturity: string;
  replicas: number | null;
  readyReplicas: number | null;
  ready: string;
  readyReason: string | null;
  deployedBy: string | null;
  deployedAt: string | null;
}

function row(c: ComponentResource, d: DeploymentResource | undefined): ListRow {
  const spec = liveSpec(c);
  const image = spec?.image ?? (c.spec as { image?: string } | undefined)?.image;
  const ready = c.status?.conditions?.find((x) => x.type === "Ready");
  const provenance = deployProvenanceFromAnnotations(c.metadata.annotations);
  return {
    component: c.metadata.name,
    namespace: c.metadata.namespace,
    revision: c.status?.revision ?? null,
    image: image ?? null,
    version: imageVersion(image),
    maturity: spec?.maturity ?? DEFAULT_MATURITY,
    replicas: d?.spec?.replicas ?? null,
    readyReplicas: d === undefined ? null : (d.status?.readyReplicas ?? 0),
    ready: ready?.status ?? "Unknown",
    readyReason: ready?.reason ?? null,
    deployedBy: provenance.deployedBy ?? null,
    deployedAt: provenance.deployedAt ?? c.metadata.creationTimestamp ?? null,
  };
}

export function registerListCommand(program: Command, io: CliIo): void {
  clusterOptions(
    program
      .command("list")
      .description(
        "what is deployed, read from the cluster: component, revision, version, maturity, replicas, who and when",
      ),
  )
    .option("-A, --all-namespaces", "list Components of every namespace")
    .option("--json", "print a machine-readable list instead of a table")
    .addHelpText(
      "after",
      `
Examples:
  $ tessera list -n docs
  $ tessera list --all-namespaces --json

Exit codes: 0 ok, 2 usage error, 3 cannot reach the API server.`,
    )
    .action(async (opts: ListOptions) => {
      if (opts.allNamespaces === true && opts.namespace !== undefined)
        throw usageError("--all-namespaces and --namespace exclude each other");
      const cluster = Cluster.load(opts);
      const namespace = opts.allNamespaces === true ? undefined : (opts.namespace ?? cluster.namespace);
      const components = await cluster.listComponents(namespace);
      let deployments: DeploymentResource[];
      try {
        const list =
          namespace === undefined
            ? await cluster.apps.listDeploymentForAllNamespaces({ labelSelector: COMPONENT_NAME_LABEL })
            : await cluster.apps.listNamespacedDeployment({ namespace, labelSelector: COMPONENT_NAME_LABEL });
        deployments = list.items as DeploymentResource[];
      } catch (err) {
        throw kubeError("list Deployments", err, cluster.server);
      }
      const byKey = new Map(
        deployments.map((d) => [`${(d.metadata as { namespace?: string }).namespace}/${d.metadata.name}`, d]),
      );
      const rows = components
        .map((c) => row(c, byKey.get(`${c.metadata.namespace}/${c.metadata.name}`)))
        .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.component.localeCompare(b.component));
      if (opts.json === true) return writeJson(io.stdout, { context: cluster.context, components: rows });
      if (rows.length === 0) {
        io.stderr.write(
          `no components ${namespace === undefined ? "in any namespace" : `in namespace ${namespace}`}\n`,
        );
        return;
      }
      const style = styleFor(io.stdout, io.env);
      io.stdout.write(
        renderTable(
          ["component", "namespace", "revision", "version", "maturity", "replicas", "ready", "deployed by", "deployed"],
          rows.map((r) => [
            r.component,
            r.namespace,
            r.revision === null ? "-" : String(r.revision),
            r.version,
            r.maturity,
            r.replicas === null ? "-" : `${r.readyReplicas ?? 0}/${r.replicas}`,
            r.ready === "True"
              ? style.green(r.readyReason === "ScaledToZero" ? "True (idle)" : "True")
              : style.red(`${r.ready}${r.readyReason !== null ? ` (${r.readyReason})` : ""}`),
            r.deployedBy ?? "-",
            r.deployedAt !== null ? `${formatAge(r.deployedAt)} ago` : "-",
          ]),
          style,
        ),
      );
    });
}
