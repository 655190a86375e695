import {
  abortedSpec,
  canaryWorkloadName,
  DEPLOY_PROVENANCE_ANNOTATION_KEYS,
  deployProvenanceAnnotations,
  deployProvenanceFromAnnotations,
  promotedSpec,
  validateComponentSpec,
  type ComponentSpec,
} from "@tessera/contract";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "@tessera/controller";
import * as k8s from "@kubernetes/client-node";
import type { Command } from "commander";
import type { CliIo } from "../cli-io.js";
import { CliError } from "../cli-error.js";
import { ExitCode } from "../exit-codes.js";
import { rollbackProvenance, whoDeploys } from "../deploy/provenance.js";
import { positiveInteger } from "../options/parsers.js";

interface CanaryOptions {
  namespace?: string;
  kubeconfig?: string;
  context?: string;
  wait?: number;
}

type Ending = "promote" | "abort";

interface ComponentResource {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    generation?: number;
    annotations?: Record<string, string>;
  };
  spec: unknown;
  status?: { observedGeneration?: number };
}

function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code ?? (err as { statusCode?: unknown }).statusCode;
  return typeof code === "number" ? code : undefined;
}

function loadKubeConfig(opts: CanaryOptions, io: CliIo): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  const file = opts.kubeconfig ?? io.env["KUBECONFIG"];
  try {
    if (file !== undefined && file !== "") kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (err) {
    throw new CliError(`cannot read the kubeconfig ${file ?? ""}: ${(err as Error).message}`.trim(), ExitCode.Usage);
  }
  if (opts.context !== undefined) {
    if (kc.getContextObject(opts.context) === null)
      throw new CliError(
        `--context ${JSON.stringify(opts.context)}: no such context in the kubeconfig`,
        ExitCode.Usage,
      );
    kc.setCurrentContext(opts.context);
  }
  return kc;
}

/** The config keys a promote changes (names only: a value is never printed). */
function changedKeys(before: ComponentSpec, after: ComponentSpec): string[] {
  const keys = new Set([...Object.keys(before.config ?? {}), ...Object.keys(after.config ?? {})]);
  return [...keys].filter((k) => before.config?.[k] !== after.config?.[k]).sort();
}

/**
 * Ends a Component's canary in the cluster: `promote` writes the canary's spec as the component's (its image,
 * its config merged over), `abort` drops it; both remove `spec.canary`, and the controller then deletes the
 * canary's Deployment and ScaledObject. One PUT carrying the resourceVersion read, so an edit made meanwhile is
 * a clear conflict, never overwritten. With --wait, waits until the controller observed the change and the
 * canary Deployment is gone.
 */
async function endCanary(ending: Ending, name: string, opts: CanaryOptions, io: CliIo): Promise<void> {
  const kc = loadKubeConfig(opts, io);
  const namespace = opts.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const ref = { group: COMPONENT_GROUP, version: COMPONENT_VERSION, namespace, plural: COMPONENT_PLURAL, name };
  let component: ComponentResource;
  try {
    component = (await custom.getNamespacedCustomObject(ref)) as ComponentResource;
  } catch (err) {
    if (statusCode(err) === 404)
      throw new CliError(`component ${namespace}/${name} not found in the cluster`, ExitCode.NotFound);
    throw new CliError(`cannot read component ${namespace}/${name}: ${(err as Error).message}`, ExitCode.Unreachable);
  }
  const checked = validateComponentSpec(component.spec);
  if (!checked.ok)
    throw new CliError(`component ${namespace}/${name} has an invalid spec; fix it first`, ExitCode.Failed, [
      checked.error.message,
    ]);
  const spec = checked.value;
  if (spec.canary === undefined)
    throw new CliError(`component ${namespace}/${name} has no canary (spec.canary) to ${ending}`, ExitCode.Conflict);
  const next = ending === "promote" ? promotedSpec(spec) : abortedSpec(spec);
  // Ending a canary changes what runs, so the revision the controller records names who ended it and when, as a
  // rollback's does; where the spec came from (commit, file) stays the deploy's that started the canary.
  const stamped = deployProvenanceAnnotations(
    rollbackProvenance(
      deployProvenanceFromAnnotations(component.metadata.annotations),
      await whoDeploys(io.env),
      undefined,
    ),
  );
  const annotations = Object.fromEntries(
    Object.entries(component.metadata.annotations ?? {}).filter(
      ([k]) => !DEPLOY_PROVENANCE_ANNOTATION_KEYS.includes(k),
    ),
  );
  let written: ComponentResource;
  try {
    written = (await custom.replaceNamespacedCustomObject({
      ...ref,
      body: {
        ...component,
        metadata: { ...component.metadata, annotations: { ...annotations, ...stamped } },
        spec: next,
      },
    })) as ComponentResource;
  } catch (err) {
    if (statusCode(err) === 409)
      throw new CliError(
        `component ${namespace}/${name} changed while this ${ending} ran; nothing was written, run it again`,
        ExitCode.Conflict,
      );
    throw new CliError(`cannot update component ${namespace}/${name}: ${(err as Error).message}`, ExitCode.Failed);
  }
  const what =
    ending === "promote"
      ? `promoted the canary of ${namespace}/${name}: image ${next.image}${
          changedKeys(spec, next).length > 0 ? `, config keys changed: ${changedKeys(spec, next).join(", ")}` : ""
        }`
      : `aborted the canary of ${namespace}/${name}: it ran ${spec.canary.image ?? spec.image}; the component stays on ${spec.image}`;
  io.stdout.write(`${what} (generation ${written.metadata.generation ?? "?"})\n`);
  if (opts.wait === undefined) return;

  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const deadline = Date.now() + opts.wait * 1000;
  const canaryName = canaryWorkloadName(name);
  for (;;) {
    const live = (await custom.getNamespacedCustomObject(ref)) as ComponentResource;
    const observed = (live.status?.observedGeneration ?? 0) >= (written.metadata.generation ?? 0);
    let canaryGone = false;
    try {
      await apps.readNamespacedDeployment({ name: canaryName, namespace });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      canaryGone = true;
    }
    if (observed && canaryGone) {
      io.stdout.write(`the controller removed Deployment ${canaryName}\n`);
      return;
    }
    if (Date.now() > deadline)
      throw new CliError(
        `the ${ending} is written, but after ${opts.wait} s ${observed ? `Deployment ${canaryName} still exists` : "the controller has not observed it yet"}`,
        ExitCode.Failed,
      );
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function register(program: Command, io: CliIo, ending: Ending, description: string): void {
  program
    .command(`${ending} <component>`)
    .description(description)
    .option("-n, --namespace <ns>", "namespace of the Component (default: the kubeconfig context's, else default)")
    .option("--kubeconfig <file>", "kubeconfig to use (default: KUBECONFIG, else ~/.kube/config)")
    .option("--context <name>", "kubeconfig context to use (default: the current one)")
    .option("--wait <seconds>", "wait until the controller removed the canary's Deployment", positiveInteger(3_600))
    .action((component: string, opts: CanaryOptions) => endCanary(ending, component, opts, io));
}

export function registerCanaryCommands(program: Command, io: CliIo): void {
  register(
    program,
    io,
    "promote",
    "end a Component's canary by making it the spec: its image and config become the component's, spec.canary is removed",
  );
  register(program, io, "abort", "end a Component's canary by removing it: the component keeps its spec");
}
