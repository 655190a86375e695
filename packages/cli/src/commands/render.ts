import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  componentCrd,
  installManifests,
  kubernetesObjects,
  renderComponent,
  validateManifests,
  type KubeObject,
  type RenderContext,
} from "@tessera/controller";
import {
  ENVIRONMENT_VARIABLE,
  buildInfo,
  enforceGuardRails,
  parseEnvironment,
  type RbacRule,
  type TesseraEnvironment,
} from "@tessera/contract";
import type { Command } from "commander";
import { stringify } from "yaml";
import type { CliIo } from "../cli-io.js";
import { CliError, ExitStatus, usageError } from "../cli-error.js";
import { ExitCode } from "../exit-codes.js";
import {
  formatManifestProblem,
  loadComponentManifests,
  manifestExitCode,
} from "../manifests/load-component-manifests.js";
import { collect, grantRule, metadataEntry } from "../options/parsers.js";
import { writeJson } from "../output/json.js";
import { styleFor } from "../output/style.js";
import { renderTable } from "../output/table.js";

interface RenderOptions {
  output?: string;
  validate?: boolean;
  namespace: string;
  natsUrl: string;
  natsMonitoring: string;
  natsNamespace: string;
  natsLabel?: Record<string, string>;
  json?: boolean;
  crd?: boolean;
  install?: string;
  grant?: RbacRule[];
  grantClusterRole?: string[];
  env?: string;
}

function environmentOption(value: string | undefined): TesseraEnvironment {
  try {
    return parseEnvironment(value);
  } catch (err) {
    throw usageError(`--env: ${(err as Error).message}`);
  }
}

export function registerRenderCommand(program: Command, io: CliIo): void {
  program
    .command("render")
    .description(
      "render Component manifests into the Kubernetes objects the controller applies (offline: no cluster needed)",
    )
    .argument("<files...>", "Component manifests (YAML or JSON)")
    .option(
      "-o, --output <dir>",
      "write <component>.yaml (the Kubernetes objects) and <component>.jetstream.json (stream and consumer) per component instead of printing YAML",
    )
    .option(
      "--validate",
      "check every object against the upstream Kubernetes and KEDA schemas, reject unknown fields, and check the restricted Pod Security Standard and the platform invariants",
    )
    .option("--namespace <ns>", "namespace of the rendered objects", "default")
    .option("--nats-url <url>", "NATS_URL given to the workers", "nats://nats.nats.svc:4222")
    .option(
      "--nats-monitoring <host:port>",
      "NATS monitoring endpoint KEDA reads, host:port with no scheme",
      "nats.nats.svc:8222",
    )
    .option("--nats-namespace <ns>", "namespace of the NATS pods (the only egress a worker always has)", "nats")
    .option(
      "--nats-label <key=value>",
      "a label of the NATS pods (repeatable; default app.kubernetes.io/name=nats)",
      metadataEntry,
    )
    .option(
      "--crd",
      "also render the components.tessera.dev CustomResourceDefinition (generated from the contract's Component schema)",
    )
    .option(
      "--install <image>",
      "also render the controller's install manifests (namespace tessera-system, CRD, ServiceAccount, least-privilege ClusterRole, controller Deployment running this tessera image)",
    )
    .option(
      "--grant <resource[.group]=verbs>",
      "with --install: a rule Components may grant their workloads in spec.rbac.rules (repeatable; the controller holds it itself, see docs/deploy.md#rbac)",
      grantRule,
    )
    .option(
      "--grant-cluster-role <name>",
      "with --install: a ClusterRole Components may bind in their namespace with spec.rbac.clusterRoles (repeatable)",
      collect,
    )
    .option(
      "--env <environment>",
      `the environment the manifests are for (local, staging, production; default ${ENVIRONMENT_VARIABLE}): production refuses components without resources, staging warns`,
    )
    .option("--json", "print a machine-readable summary (and the problems) instead of YAML or tables")
    .addHelpText(
      "after",
      `
Examples:
  $ tessera render examples/documents/components/*.yaml --validate -o deploy/
  $ tessera render components/extract.yaml --namespace docs | kubectl apply -f -
  $ tessera render components/*.yaml --install ghcr.io/example/tessera:0.1.0 -o deploy/

Exit codes: 0 ok, 1 invalid manifests or validation problems, 2 usage error (a manifest that cannot be read or is
not valid YAML or JSON included).`,
    )
    .action(async (files: string[], opts: RenderOptions) => {
      const environment = environmentOption(opts.env ?? io.env[ENVIRONMENT_VARIABLE]);
      if ((opts.grant !== undefined || opts.grantClusterRole !== undefined) && opts.install === undefined)
        throw usageError("--grant and --grant-cluster-role shape the controller's install: use them with --install");
      const { manifests, problems } = await loadComponentManifests(files);
      if (problems.length > 0) {
        for (const p of problems) io.stderr.write(`${formatManifestProblem(p)}\n`);
        throw new ExitStatus(manifestExitCode(problems));
      }
      enforceGuardRails(
        environment,
        { manifests: manifests.map((m) => ({ name: m.name, spec: m.spec })) },
        (f) => io.stderr.write(`warning: ${environment}: [${f.rule}] ${f.message}\n`),
        "render",
      );
      const ctx: RenderContext = {
        build: buildInfo(io.env),
        nats: {
          url: opts.natsUrl,
          monitoringEndpoint: opts.natsMonitoring,
          namespace: opts.natsNamespace,
          podLabels: opts.natsLabel ?? { "app.kubernetes.io/name": "nats" },
        },
      };
      const rendered = manifests.map((m) => {
        try {
          const r = renderComponent({ name: m.name, namespace: opts.namespace, spec: m.spec }, ctx);
          return {
            manifest: m,
            objects: kubernetesObjects(r) as unknown as KubeObject[],
            jetstream: { stream: r.stream, consumer: r.consumer },
          };
        } catch (err) {
          throw new CliError(`${m.file}: cannot render ${m.name}: ${(err as Error).message}`, ExitCode.Failed);
        }
      });
      const install =
        opts.install !== undefined
          ? (installManifests({
              image: opts.install,
              componentGrants: { rules: opts.grant ?? [], clusterRoles: opts.grantClusterRole ?? [] },
              nats: { url: opts.natsUrl, monitoringEndpoint: opts.natsMonitoring },
            }) as unknown as KubeObject[])
          : [];
      // The install manifests include the CRD already.
      const crd = [
        ...(opts.crd === true && install.length === 0 ? [componentCrd() as unknown as KubeObject] : []),
        ...install,
      ];
      const all = [...crd, ...rendered.flatMap((r) => r.objects)];
      const validation = opts.validate === true ? validateManifests(all) : [];

      if (opts.output !== undefined) {
        await mkdir(opts.output, { recursive: true });
        if (install.length > 0)
          await writeFile(join(opts.output, "tessera-install.yaml"), install.map((o) => stringify(o)).join("---\n"));
        else for (const c of crd) await writeFile(join(opts.output, `${c.metadata.name}.yaml`), stringify(c));
        for (const r of rendered) {
          await writeFile(
            join(opts.output, `${r.manifest.name}.yaml`),
            r.objects.map((o) => stringify(o)).join("---\n"),
          );
          await writeFile(
            join(opts.output, `${r.manifest.name}.jetstream.json`),
            `${JSON.stringify(r.jetstream, null, 2)}\n`,
          );
        }
      }
      if (opts.json === true) {
        writeJson(io.stdout, {
          components: rendered.map((r) => ({
            name: r.manifest.name,
            file: r.manifest.file,
            objects: r.objects.map((o) => `${o.kind}/${o.metadata.name}`),
            jetstream: r.jetstream,
          })),
          validated: opts.validate === true,
          problems: validation,
        });
      } else if (opts.output !== undefined) {
        const style = styleFor(io.stdout, io.env);
        const rows = rendered.map((r) => [
          r.manifest.name,
          r.objects.map((o) => o.kind).join(", "),
          join(opts.output as string, `${r.manifest.name}.yaml`),
        ]);
        io.stdout.write(renderTable(["component", "objects", "file"], rows, style));
      } else {
        io.stdout.write(all.map((o) => stringify(o)).join("---\n"));
      }
      if (opts.validate === true && opts.json !== true) {
        for (const p of validation) io.stderr.write(`${p.object}: ${p.path === "" ? "" : `${p.path}: `}${p.message}\n`);
        io.stderr.write(
          validation.length === 0
            ? `validated ${all.length} objects: no problems\n`
            : `${validation.length} problem${validation.length === 1 ? "" : "s"} in ${all.length} objects\n`,
        );
      }
      if (validation.length > 0) throw new ExitStatus(ExitCode.Failed);
    });
}
