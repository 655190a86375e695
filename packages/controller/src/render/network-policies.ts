import type { ComponentSpec } from "@tessera/contract";
import type {
  INetworkPolicy,
  INetworkPolicyEgressRule,
  INetworkPolicyPeer,
  INetworkPolicyPort,
} from "kubernetes-models/networking.k8s.io/v1";
import { DEFAULT_DNS_NAMESPACE, DEFAULT_DNS_POD_LABELS, NAMESPACE_NAME_LABEL, type RenderContext } from "./context.js";
import { RenderError } from "./errors.js";
import { childMetadata, selectorLabels, type ComponentRef } from "./labels.js";

export type NetworkPolicyObject = INetworkPolicy & { metadata: ReturnType<typeof childMetadata> };

export const NATS_CLIENT_PORT = 4222;
/** `openInternet` never reaches private networks, link-local addresses or the cloud metadata service. */
export const OPEN_INTERNET_EXCEPT = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"] as const;

export const defaultDenyPolicyName = (name: string): string => `${name}-default-deny`;
export const egressPolicyName = (name: string): string => `${name}-egress`;

/** The client ports of the NATS URL(s) (nats://host:port, comma-separated), 4222 when a URL has none. */
export function natsPorts(url: string): number[] {
  const ports = new Set<number>();
  for (const raw of url
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")) {
    let parsed: URL;
    try {
      parsed = new URL(raw.includes("://") ? raw : `nats://${raw}`);
    } catch {
      throw new RenderError(`nats.url ${JSON.stringify(raw)}: expected a URL such as nats://nats.nats.svc:4222`);
    }
    ports.add(parsed.port === "" ? NATS_CLIENT_PORT : Number(parsed.port));
  }
  if (ports.size === 0) throw new RenderError("nats.url is empty");
  return [...ports].sort((a, b) => a - b);
}

function natsRule(ctx: RenderContext): INetworkPolicyEgressRule {
  return {
    to: [
      {
        namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: ctx.nats.namespace } },
        podSelector: { matchLabels: { ...ctx.nats.podLabels } },
      },
    ],
    ports: natsPorts(ctx.nats.url).map((port) => ({ protocol: "TCP", port })),
  };
}

function dnsRule(ctx: RenderContext): INetworkPolicyEgressRule {
  return {
    to: [
      {
        namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: ctx.dns?.namespace ?? DEFAULT_DNS_NAMESPACE } },
        podSelector: { matchLabels: { ...(ctx.dns?.podLabels ?? DEFAULT_DNS_POD_LABELS) } },
      },
    ],
    ports: [
      { protocol: "UDP", port: 53 },
      { protocol: "TCP", port: 53 },
    ],
  };
}

/**
 * Egress rules of the `allowlist` posture, besides NATS: DNS, the declared CIDRs, the cluster peers and
 * `openInternet`. The declared `ports` (TCP unless stated) restrict every declared destination; without
 * them a destination is open on all ports.
 */
function allowlistRules(name: string, spec: ComponentSpec, ctx: RenderContext): INetworkPolicyEgressRule[] {
  const allow = spec.allowlist ?? {};
  const ports: INetworkPolicyPort[] | undefined = allow.ports?.map((p) => ({
    protocol: p.protocol ?? "TCP",
    port: p.port,
  }));
  const withPorts = (to: INetworkPolicyPeer[]): INetworkPolicyEgressRule => ({
    to,
    ...(ports !== undefined && ports.length > 0 ? { ports } : {}),
  });
  const rules: INetworkPolicyEgressRule[] = [dnsRule(ctx)];
  const cidrs = allow.cidrs ?? [];
  if (cidrs.length > 0) rules.push(withPorts(cidrs.map((cidr) => ({ ipBlock: { cidr } }))));
  const peers = (allow.clusterPeers ?? []).map((peer, i): INetworkPolicyPeer => {
    if (peer.namespace === undefined && peer.podLabels === undefined) {
      throw new RenderError(
        `Component ${name}: allowlist.clusterPeers[${i}]: give a namespace, podLabels or both (an empty peer would match nothing useful)`,
      );
    }
    return {
      // A podSelector alone would mean "in the component's own namespace"; a namespace alone, all its pods.
      ...(peer.namespace !== undefined
        ? { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: peer.namespace } } }
        : {}),
      ...(peer.podLabels !== undefined ? { podSelector: { matchLabels: { ...peer.podLabels } } } : {}),
    };
  });
  if (peers.length > 0) rules.push(withPorts(peers));
  if (allow.openInternet === true)
    rules.push(withPorts([{ ipBlock: { cidr: "0.0.0.0/0", except: [...OPEN_INTERNET_EXCEPT] } }]));
  return rules;
}

/** The egress rules of a posture (NATS first). `none` and `fetch-controlled`: NATS only, not even DNS. */
export function egressRules(name: string, spec: ComponentSpec, ctx: RenderContext): INetworkPolicyEgressRule[] {
  switch (spec.egress) {
    case "none":
      return [natsRule(ctx)];
    case "fetch-controlled":
      // The coordinator (or a fetch component) fetches the input through the shared egress guard, so
      // these workers need no direct egress either.
      return [natsRule(ctx)];
    case "allowlist":
      return [natsRule(ctx), ...allowlistRules(name, spec, ctx)];
    default:
      throw new RenderError(
        `Component ${name}: egress ${JSON.stringify(spec.egress satisfies never)}: expected none, fetch-controlled or allowlist`,
      );
  }
}

/**
 * Two policies selecting the component's pods:
 * - `<name>-default-deny`, the backstop, always rendered: Ingress and Egress with no rules, so the pods are
 *   isolated even if the egress policy is deleted or fails to apply.
 * - `<name>-egress`: the posture's allowed egress (policies are additive).
 *
 * Ingress stays denied: nothing calls a worker (it pulls its jobs from NATS). Kubelet liveness/readiness
 * probes need no rule: traffic from the node's kubelet is not subject to NetworkPolicy. A Prometheus scrape
 * of /metrics would need an extra policy.
 */
export function renderNetworkPolicies(
  component: ComponentRef,
  spec: ComponentSpec,
  ctx: RenderContext,
): NetworkPolicyObject[] {
  const podSelector = { matchLabels: selectorLabels(component.name) };
  return [
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: childMetadata(component, defaultDenyPolicyName(component.name)),
      spec: { podSelector, policyTypes: ["Ingress", "Egress"] },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: childMetadata(component, egressPolicyName(component.name)),
      spec: {
        podSelector: { matchLabels: { ...podSelector.matchLabels } },
        policyTypes: ["Egress"],
        egress: egressRules(component.name, spec, ctx),
      },
    },
  ];
}
