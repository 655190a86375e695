import {
  CONFIG_HASH_ANNOTATION,
  ComponentDefaults,
  HANDLER_LIMITS_ENV,
  handlerLimitsEnv,
  parseDuration,
  REVISION_ENV,
  upperSnake as contractUpperSnake,
  type ComponentSpec,
  type Revision,
} from "@tessera/contract";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "./hardening.js";
import type { IDeployment } from "kubernetes-models/apps/v1";
import type { IEnvVar } from "kubernetes-models/v1";
import type { RenderContext } from "./context.js";
import { RenderError } from "./errors.js";
import { childMetadata, stableWorkload, type ComponentRef, type Workload } from "./labels.js";
import { DEFAULT_SERVICE_ACCOUNT, componentServiceAccountName } from "./rbac.js";

export type DeploymentObject = IDeployment & { metadata: ReturnType<typeof childMetadata> };

/** Fixed non-root identity (the distroless "nonroot" user). */
export const WORKER_UID = 65532;
export const WORKER_CONTAINER = "worker";
export const WORKER_HTTP_PORT = 8080;
export const SCRATCH_VOLUME = "scratch";
/** runWorker's default drain grace; the Deployment sets TESSERA_DRAIN_GRACE_MS explicitly anyway. */
export const WORKER_DEFAULT_DRAIN_GRACE_MS = 30_000;
/** Time after the drain for closing the bus and exiting before the kubelet sends SIGKILL. */
export const TERMINATION_MARGIN_SECONDS = 15;

/** Env the platform sets; a config key or secretRef may not reuse these names. */
export const BOOTSTRAP_ENV = [
  "NATS_URL",
  "TESSERA_MODE",
  "TESSERA_HTTP_HOST",
  "TESSERA_HTTP_PORT",
  "TESSERA_INSTANCE_ID",
  "TESSERA_DRAIN_GRACE_MS",
  REVISION_ENV,
  ...Object.values(HANDLER_LIMITS_ENV),
] as const;

/** Portable env var names (the rule Kubernetes applied before 1.30; newer API servers accept more). */
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** "openai-api-key" → "OPENAI_API_KEY" (the contract's rule); text with no letter or digit is an error. */
export function upperSnake(text: string): string {
  const snake = contractUpperSnake(text);
  if (snake === "")
    throw new RenderError(
      `cannot derive an environment variable name from ${JSON.stringify(text)}: set secretRefs[].env`,
    );
  return snake;
}

/**
 * The drain grace: at least the worker default, and long enough for a job started just before SIGTERM to
 * finish within its wall-clock timeout instead of being aborted and redelivered.
 */
export function drainGraceMs(spec: ComponentSpec): number {
  const wallClock =
    spec.timeouts?.wallClock !== undefined ? parseDuration(spec.timeouts.wallClock) : ComponentDefaults.wallClockMs;
  return Math.max(WORKER_DEFAULT_DRAIN_GRACE_MS, wallClock);
}

export function terminationGracePeriodSeconds(spec: ComponentSpec): number {
  return Math.ceil(drainGraceMs(spec) / 1000) + TERMINATION_MARGIN_SECONDS;
}

/** Where a workload reads its config: the content-hashed immutable ConfigMap (render/config-map.ts). */
export interface WorkloadConfig {
  /** The effective config (spec.config, the overlay, the canary's keys): one env var per key. */
  data: Readonly<Record<string, string>>;
  hash: string;
  configMapName: string;
}

/**
 * The container env, sorted by name (a stable order, so re-rendering never looks like a change):
 * the NATS bootstrap, the handler limits the spec sets, each config key as a configMapKeyRef into the workload's
 * hashed ConfigMap, `secretRefs` only as secretKeyRef (a secret value is never inlined). A secretRef without `key` reads the key named like the Secret; its env name is `env`, else the
 * upper-snake form of the key (or name). A name used twice is an error, not a silent override.
 */
export function renderEnv(
  name: string,
  spec: ComponentSpec,
  ctx: RenderContext,
  config: WorkloadConfig,
  revision: Revision = "stable",
): IEnvVar[] {
  const env: IEnvVar[] = [
    { name: "NATS_URL", value: ctx.nats.url },
    { name: "TESSERA_MODE", value: "kubernetes" },
    { name: "TESSERA_HTTP_HOST", value: "0.0.0.0" },
    { name: "TESSERA_HTTP_PORT", value: String(WORKER_HTTP_PORT) },
    { name: "TESSERA_INSTANCE_ID", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } } },
    { name: "TESSERA_DRAIN_GRACE_MS", value: String(drainGraceMs(spec)) },
    ...Object.entries(handlerLimitsEnv(spec.handlerLimits)).map(([name, value]) => ({ name, value })),
    // Only on the canary: the stable Deployment renders as it did before canaries existed (no rollout).
    ...(revision === "canary" ? [{ name: REVISION_ENV, value: revision }] : []),
  ];
  const origin = new Map<string, string>(env.map((e) => [e.name, "set by the platform"]));
  if (!origin.has(REVISION_ENV)) origin.set(REVISION_ENV, "reserved for the canary's revision");
  // Read by the worker whether or not the spec sets them: config may not set them behind handlerLimits' back.
  for (const name of Object.values(HANDLER_LIMITS_ENV))
    if (!origin.has(name)) origin.set(name, "reserved for the spec's handlerLimits");
  const add = (entry: IEnvVar, from: string): void => {
    if (!ENV_NAME.test(entry.name)) {
      throw new RenderError(
        `Component ${name}: ${from}: ${JSON.stringify(entry.name)} is not a valid environment variable name (letters, digits, '_', '-', '.'; not starting with a digit)`,
      );
    }
    const previous = origin.get(entry.name);
    if (previous !== undefined)
      throw new RenderError(
        `Component ${name}: ${from}: environment variable ${entry.name} is already ${previous}; rename one of them`,
      );
    origin.set(entry.name, from);
    env.push(entry);
  };
  // One key reference per key rather than envFrom: a key that is no valid env name is an error here, where
  // envFrom would skip it silently, and a key colliding with the platform's env is refused the same way.
  for (const key of Object.keys(config.data))
    add({ name: key, valueFrom: { configMapKeyRef: { name: config.configMapName, key } } }, `config.${key}`);
  for (const [i, ref] of (spec.secretRefs ?? []).entries()) {
    const key = ref.key ?? ref.name;
    add({ name: ref.env ?? upperSnake(key), valueFrom: { secretKeyRef: { name: ref.name, key } } }, `secretRefs[${i}]`);
  }
  // Temporary files (os.tmpdir()) land in the size-capped scratch volume, the only writable place.
  if (spec.scratchVolume !== undefined && !origin.has("TMPDIR"))
    env.push({ name: "TMPDIR", value: spec.scratchVolume.mountPath });
  return env.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The worker Deployment. It never sets `spec.replicas`: KEDA owns the replica count, and applying a
 * value would fight it on every reconcile.
 *
 * No writable space except the declared scratch volume: no /tmp emptyDir (TMPDIR points at the scratch
 * volume when there is one), the root filesystem is read-only.
 */
export function renderDeployment(
  component: ComponentRef,
  spec: ComponentSpec,
  ctx: RenderContext,
  config: WorkloadConfig,
  workload: Workload = stableWorkload(component.name),
): DeploymentObject {
  const scratch = spec.scratchVolume;
  const resources = spec.resources;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { ...childMetadata(component, workload.name), labels: workload.labels },
    spec: {
      selector: { matchLabels: workload.selector },
      template: {
        // The hash changes the template whenever the config does (an overlay edit included), so the pods roll.
        metadata: { labels: workload.labels, annotations: { [CONFIG_HASH_ANNOTATION]: config.hash } },
        spec: {
          // Always explicit (so dropping spec.rbac changes the live object back): the component's own account,
          // with its token, only when the spec declares RBAC; otherwise the namespace default, no token.
          serviceAccountName:
            spec.rbac !== undefined ? componentServiceAccountName(component.name) : DEFAULT_SERVICE_ACCOUNT,
          automountServiceAccountToken: spec.rbac !== undefined,
          // Service links would add one env var per Service in the namespace: noise, and an information leak.
          enableServiceLinks: false,
          terminationGracePeriodSeconds: terminationGracePeriodSeconds(spec),
          securityContext: restrictedPodSecurityContext(WORKER_UID),
          containers: [
            {
              name: WORKER_CONTAINER,
              image: spec.image,
              ports: [{ name: "http", containerPort: WORKER_HTTP_PORT, protocol: "TCP" }],
              env: renderEnv(component.name, spec, ctx, config, workload.revision),
              ...(resources !== undefined
                ? {
                    resources: {
                      ...(resources.requests ? { requests: { ...resources.requests } } : {}),
                      ...(resources.limits ? { limits: { ...resources.limits } } : {}),
                    },
                  }
                : {}),
              readinessProbe: {
                httpGet: { path: "/readyz", port: WORKER_HTTP_PORT },
                periodSeconds: 5,
                timeoutSeconds: 2,
                failureThreshold: 2,
              },
              livenessProbe: {
                httpGet: { path: "/healthz", port: WORKER_HTTP_PORT },
                initialDelaySeconds: 10,
                periodSeconds: 10,
                timeoutSeconds: 2,
                failureThreshold: 3,
              },
              securityContext: restrictedContainerSecurityContext(),
              ...(scratch !== undefined
                ? { volumeMounts: [{ name: SCRATCH_VOLUME, mountPath: scratch.mountPath }] }
                : {}),
            },
          ],
          ...(scratch !== undefined
            ? { volumes: [{ name: SCRATCH_VOLUME, emptyDir: { sizeLimit: scratch.sizeLimit } }] }
            : {}),
        },
      },
    },
  };
}
