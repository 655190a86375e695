import { kubernetesObjects, renderComponent, type RenderContext } from "@tessera/controller";
import { secretRefEnvName, type ComponentSpec } from "@tessera/contract";
import type { Command } from "commander";
import { stringify } from "yaml";
import type { CliIo } from "../cli-io.js";
import { CliError } from "../cli-error.js";
import { ExitCode } from "../exit-codes.js";
import { Cluster } from "../deploy/cluster.js";
import { specYaml } from "../deploy/deploy-group.js";
import { clusterOptions } from "../deploy/load-units.js";
import { listRevisions, type RevisionView } from "../deploy/revisions.js";
import { unifiedDiff } from "../deploy/unified-diff.js";
import { positiveInteger } from "../options/parsers.js";
import { formatAge } from "../output/format.js";
import { writeJson } from "../output/json.js";
import { styleFor } from "../output/style.js";
import { renderTable } from "../output/table.js";

interface VersionsOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  diff?: number[];
  json?: boolean;
}

/**
 * What `--diff` renders the revisions with: `tessera render`'s defaults. The controller's own NATS settings are
 * the same for both revisions, so they could never show up as a difference anyway.
 */
const OFFLINE_RENDER: RenderContext = {
  nats: {
    url: "nats://nats.nats.svc:4222",
    monitoringEndpoint: "nats.nats.svc:8222",
    namespace: "nats",
    podLabels: { "app.kubernetes.io/name": "nats" },
  },
};

const shortCommit = (commit: string | undefined): string =>
  commit === undefined ? "-" : commit === "unknown" ? "unknown" : commit.slice(0, 12);

/**
 * The config of a revision as lines: its ConfigMap and hash, the overlay merged in, every effective config value
 * (never secret: a secret cannot be written in config), and secretRefs by Secret name and key only.
 */
export function configText(r: RevisionView): string {
  const lines = [
    `configMap: ${r.config.configMapName}`,
    `configHash: ${r.config.hash}`,
    ...(r.overlay !== undefined ? [`overlay: ConfigMap ${r.overlay.name} (data sha256 ${r.overlay.dataHash})`] : []),
    ...Object.entries(r.effectiveConfig)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `config ${k}=${v}`),
    ...(r.canaryConfig !== undefined
      ? [`canary configMap: ${r.canaryConfig.configMapName}`, `canary configHash: ${r.canaryConfig.hash}`]
      : []),
    ...(r.spec.secretRefs ?? []).map(
      (ref) => `secret ${secretRefEnvName(ref)} from Secret ${ref.name} key ${ref.key ?? ref.name} (value never shown)`,
    ),
  ];
  return `${lines.join("\n")}\n`;
}

function renderedText(component: string, namespace: string, spec: ComponentSpec): string {
  try {
    const objects = kubernetesObjects(renderComponent({ name: component, namespace, spec }, OFFLINE_RENDER));
    return objects.map((o) => stringify(o, { sortMapEntries: true, aliasDuplicateObjects: false })).join("---\n");
  } catch (err) {
    return `(cannot render: ${(err as Error).message})\n`;
  }
}

/** The three diffs between two revisions: spec, config, rendered manifests ("" where they agree). */
export function revisionDiff(
  component: string,
  namespace: string,
  a: RevisionView,
  b: RevisionView,
): { spec: string; config: string; manifests: string } {
  const label = (r: RevisionView) => `${namespace}/${component} revision ${r.revision}`;
  return {
    spec: unifiedDiff(specYaml(a.spec), specYaml(b.spec), label(a), label(b)),
    config: unifiedDiff(configText(a), configText(b), label(a), label(b)),
    manifests: unifiedDiff(
      renderedText(component, namespace, a.spec),
      renderedText(component, namespace, b.spec),
      label(a),
      label(b),
    ),
  };
}

export function registerVersionsCommand(program: Command, io: CliIo): void {
  clusterOptions(
    program
      .command("versions")
      .description(
        "the revisions of a component, read from the cluster: number, age, who, commit, image, which is live",
      )
      .argument("<component>", "the Component's name"),
  )
    .option(
      "--diff <revisions...>",
      "show what changes from revision A to B: spec, config, rendered manifests",
      (v, prev: number[] | undefined) => [...(prev ?? []), positiveInteger(Number.MAX_SAFE_INTEGER)(v)],
    )
    .option("--json", "print a machine-readable document instead of a table or diff")
    .addHelpText(
      "after",
      `
Secret values are never shown: a revision records secretRefs by Secret name and key, and config by value
(config holds no secrets; see docs/contract.md#config-classes).

Examples:
  $ tessera versions extract -n docs
  $ tessera versions extract -n docs --diff 3 4

Exit codes: 0 ok, 2 usage error, 3 cannot reach the API server, 4 component or revision not found.`,
    )
    .action(async (component: string, opts: VersionsOptions) => {
      const cluster = Cluster.load(opts);
      const namespace = opts.namespace ?? cluster.namespace;
      const live = await cluster.requireComponent(namespace, component);
      const revisions = await listRevisions(cluster, namespace, component);
      const liveRevision = live.status?.revision;
      if (opts.diff !== undefined) {
        if (opts.diff.length !== 2)
          throw new CliError(`--diff takes two revision numbers (A B), got ${opts.diff.length}`, ExitCode.Usage);
        const [a, b] = opts.diff.map((n) => {
          const found = revisions.find((r) => r.revision === n);
          if (found === undefined)
            throw new CliError(
              `component ${namespace}/${component} has no revision ${n} (it has ${revisions.map((r) => r.revision).join(", ") || "none"})`,
              ExitCode.NotFound,
            );
          return found;
        }) as [RevisionView, RevisionView];
        const diff = revisionDiff(component, namespace, a, b);
        if (opts.json === true)
          return writeJson(io.stdout, { component, namespace, from: a.revision, to: b.revision, ...diff });
        for (const [title, text] of [
          ["spec", diff.spec],
          ["config", diff.config],
          ["rendered manifests", diff.manifests],
        ] as const)
          io.stdout.write(`# ${title}\n${text === "" ? "(no change)\n" : text}`);
        return;
      }
      if (opts.json === true)
        return writeJson(io.stdout, {
          component,
          namespace,
          live: liveRevision ?? null,
          revisions: revisions.map((r) => ({
            revision: r.revision,
            name: r.name,
            createdAt: r.createdAt,
            live: r.revision === liveRevision,
            images: r.images,
            configHash: r.config.hash,
            configMapName: r.config.configMapName,
            provenance: r.provenance,
          })),
        });
      if (revisions.length === 0) {
        io.stderr.write(`component ${namespace}/${component} has no recorded revisions yet\n`);
        return;
      }
      const style = styleFor(io.stdout, io.env);
      io.stdout.write(
        renderTable(
          ["revision", "age", "deployed by", "commit", "image", "live", "note"],
          revisions.map((r) => [
            String(r.revision),
            formatAge(r.createdAt),
            r.provenance.deployedBy ?? "-",
            `${shortCommit(r.provenance.gitCommit)}${r.provenance.gitDirty === "true" ? " (dirty)" : ""}`,
            r.images.join(", "),
            r.revision === liveRevision ? style.green("*") : "",
            r.provenance.rollbackOf !== undefined ? `rollback to ${r.provenance.rollbackOf}` : "",
          ]),
          style,
        ),
      );
    });
}
