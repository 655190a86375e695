import type { BuildInfo, TesseraEnvironment } from "@tessera/contract";

/** What the renderers need to know about the cluster (not about the component). */
export interface RenderContext {
  /** The build rendering the objects (the controller's, `tessera render`'s): annotated on each of them. */
  build?: BuildInfo;
  /** Where the cluster is (`TESSERA_ENV`, default local): outside local, local-only config is refused. */
  environment?: TesseraEnvironment;
  nats: {
    /** NATS_URL for the workers, e.g. nats://nats.nats.svc:4222 (comma-separated for several servers). */
    url: string;
    /** KEDA's natsServerMonitoringEndpoint: host:port, NO scheme (e.g. nats.nats.svc:8222). */
    monitoringEndpoint: string;
    /** Namespace of the NATS pods (matched by its kubernetes.io/metadata.name label). */
    namespace: string;
    /** Labels of the NATS server pods. */
    podLabels: Record<string, string>;
  };
  /** Cluster DNS, allowed for egress `allowlist` only. Default: kube-system, k8s-app=kube-dns. */
  dns?: { namespace?: string; podLabels?: Record<string, string> };
}

export const DEFAULT_DNS_NAMESPACE = "kube-system";
export const DEFAULT_DNS_POD_LABELS: Readonly<Record<string, string>> = { "k8s-app": "kube-dns" };
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";
