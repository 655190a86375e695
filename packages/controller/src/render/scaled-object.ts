import type { IScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import {
  ComponentDefaults,
  durableConsumerName,
  jobStreamName,
  parseDuration,
  type ComponentSpec,
} from "@tessera/contract";
import type { RenderContext } from "./context.js";
import { RenderError } from "./errors.js";
import { childMetadata, stableWorkload, type ComponentRef, type Workload } from "./labels.js";

export type ScaledObjectObject = IScaledObject & { metadata: ReturnType<typeof childMetadata> };

/** KEDA's default account when NATS has none configured. */
export const NATS_DEFAULT_ACCOUNT = "$G";
const HOST_PORT = /^[A-Za-z0-9.-]+:(\d{1,5})$/;

/**
 * KEDA's nats-jetstream scaler builds the URL itself (`http(s)://` + endpoint + `/jsz`): an endpoint with a
 * scheme yields `http://http://...` and the scaler silently reports no lag. So it must be host:port.
 */
export function assertMonitoringEndpoint(endpoint: string): string {
  if (endpoint.includes("://")) {
    throw new RenderError(
      `nats.monitoringEndpoint ${JSON.stringify(endpoint)}: expected host:port with no scheme (e.g. ${JSON.stringify(endpoint.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").replace(/\/.*$/, ""))}); KEDA adds the scheme itself`,
    );
  }
  const port = HOST_PORT.exec(endpoint)?.[1];
  if (port === undefined || Number(port) < 1 || Number(port) > 65535) {
    throw new RenderError(
      `nats.monitoringEndpoint ${JSON.stringify(endpoint)}: expected host:port such as nats.nats.svc:8222 (no scheme, no path)`,
    );
  }
  return endpoint;
}

/**
 * The KEDA ScaledObject scaling the component's Deployment on the lag of its durable consumer. The stream
 * and consumer names come from the contract's naming functions, the same ones the controller provisions
 * with; every trigger metadata value is a string (KEDA rejects anything else).
 */
export function renderScaledObject(
  component: ComponentRef,
  spec: ComponentSpec,
  ctx: RenderContext,
  workload: Workload = stableWorkload(component.name),
): ScaledObjectObject {
  const scaling = spec.scaling;
  const min = scaling?.minReplicas ?? ComponentDefaults.minReplicas;
  const max = scaling?.maxReplicas ?? ComponentDefaults.maxReplicas;
  if (min > max)
    throw new RenderError(
      `Component ${component.name}: scaling.minReplicas (${min}) is above scaling.maxReplicas (${max})`,
    );
  const lag = scaling?.queueDepthTarget ?? ComponentDefaults.queueDepthTarget;
  const metadata: Record<string, string> = {
    natsServerMonitoringEndpoint: assertMonitoringEndpoint(ctx.nats.monitoringEndpoint),
    account: NATS_DEFAULT_ACCOUNT,
    stream: jobStreamName(component.name),
    consumer: durableConsumerName(component.name),
    lagThreshold: String(lag),
    // Scale from zero as soon as one job waits.
    activationLagThreshold: "0",
    useHttps: "false",
  };
  return {
    apiVersion: "keda.sh/v1alpha1",
    kind: "ScaledObject",
    metadata: { ...childMetadata(component, workload.name), labels: workload.labels },
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: workload.name },
      minReplicaCount: min,
      maxReplicaCount: max,
      // Each omitted when not declared, so KEDA's defaults (30 s and 300 s) apply.
      ...(scaling?.pollingInterval !== undefined ? { pollingInterval: wholeSeconds(scaling.pollingInterval) } : {}),
      ...(scaling?.cooldownPeriod !== undefined ? { cooldownPeriod: wholeSeconds(scaling.cooldownPeriod) } : {}),
      triggers: [{ type: "nats-jetstream", metadata }],
    },
  };
}

/** KEDA's periods are whole seconds, at least 1: a duration rounds up. */
function wholeSeconds(duration: string): number {
  return Math.max(1, Math.ceil(parseDuration(duration) / 1000));
}
