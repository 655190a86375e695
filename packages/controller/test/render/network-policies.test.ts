import type { ComponentSpec } from "@tessera/contract";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { describe, expect, it } from "vitest";
import { RenderError } from "../../src/render/errors.js";
import { selectorLabels } from "../../src/render/labels.js";
import { OPEN_INTERNET_EXCEPT, natsPorts, renderNetworkPolicies } from "../../src/render/network-policies.js";
import { ctx, spec } from "./fixtures.js";

const ref = { name: "extract", namespace: "docs", uid: "uid-1" };
const render = (s: ComponentSpec, c = ctx) => renderNetworkPolicies(ref, s, c);
const egressOf = (s: ComponentSpec, c = ctx) => render(s, c)[1]?.spec?.egress ?? [];

const natsRule = {
  to: [
    {
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "nats" } },
      podSelector: { matchLabels: { "app.kubernetes.io/name": "nats" } },
    },
  ],
  ports: [{ protocol: "TCP", port: 4222 }],
};
const dnsRule = {
  to: [
    {
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
      podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
    },
  ],
  ports: [
    { protocol: "UDP", port: 53 },
    { protocol: "TCP", port: 53 },
  ],
};
const postures: ComponentSpec[] = [
  spec({ egress: "none" }),
  spec({ egress: "fetch-controlled", inputMode: "source-locator" }),
  spec({ egress: "allowlist", allowlist: { cidrs: ["203.0.113.0/24"], ports: [{ port: 443 }] } }),
  spec({ egress: "allowlist", allowlist: { openInternet: true } }),
  spec({
    egress: "allowlist",
    allowlist: {
      clusterPeers: [
        { namespace: "db", podLabels: { app: "pg" } },
        { namespace: "cache" },
        { podLabels: { app: "sidecar" } },
      ],
    },
  }),
];

describe("renderNetworkPolicies", () => {
  it("validates against the networking.k8s.io/v1 schema, for every posture", () => {
    for (const s of postures) for (const p of render(s)) expect(() => new NetworkPolicy(p).validate()).not.toThrow();
  });

  it("always renders the default-deny backstop selecting the component's pods", () => {
    for (const s of postures) {
      const [deny, egress] = render(s);
      expect(deny?.metadata.name).toBe("extract-default-deny");
      expect(deny?.spec).toEqual({
        podSelector: { matchLabels: selectorLabels("extract") },
        policyTypes: ["Ingress", "Egress"],
      });
      expect(egress?.metadata.name).toBe("extract-egress");
      expect(egress?.spec?.podSelector).toEqual({ matchLabels: selectorLabels("extract") });
      expect(egress?.spec?.policyTypes).toEqual(["Egress"]);
      for (const p of render(s)) {
        expect(p.spec?.ingress).toBeUndefined();
        expect(p.metadata.labels["tessera.dev/component"]).toBe("extract");
        expect(p.metadata.ownerReferences?.[0]?.uid).toBe("uid-1");
      }
    }
  });

  it("egress none: NATS only, no DNS", () => {
    expect(egressOf(spec({ egress: "none" }))).toEqual([natsRule]);
  });

  it("fetch-controlled: NATS only, no direct egress", () => {
    expect(egressOf(spec({ egress: "fetch-controlled", inputMode: "source-locator" }))).toEqual([natsRule]);
  });

  it("allowlist: NATS, DNS and the declared CIDRs on the declared ports", () => {
    const rules = egressOf(
      spec({
        egress: "allowlist",
        allowlist: {
          cidrs: ["203.0.113.0/24", "2001:db8::/32"],
          ports: [{ port: 443 }, { port: 5353, protocol: "UDP" }],
        },
      }),
    );
    expect(rules).toEqual([
      natsRule,
      dnsRule,
      {
        to: [{ ipBlock: { cidr: "203.0.113.0/24" } }, { ipBlock: { cidr: "2001:db8::/32" } }],
        ports: [
          { protocol: "TCP", port: 443 },
          { protocol: "UDP", port: 5353 },
        ],
      },
    ]);
  });

  it("allowlist: a CIDR without declared ports is open on all ports", () => {
    expect(egressOf(spec({ egress: "allowlist", allowlist: { cidrs: ["203.0.113.0/24"] } }))[2]).toEqual({
      to: [{ ipBlock: { cidr: "203.0.113.0/24" } }],
    });
  });

  it("allowlist: cluster peers by namespace and/or pod labels", () => {
    const rules = egressOf(postures[4] as ComponentSpec);
    expect(rules.slice(0, 2)).toEqual([natsRule, dnsRule]);
    expect(rules[2]).toEqual({
      to: [
        {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "db" } },
          podSelector: { matchLabels: { app: "pg" } },
        },
        { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "cache" } } },
        { podSelector: { matchLabels: { app: "sidecar" } } },
      ],
    });
    expect(() => render(spec({ egress: "allowlist", allowlist: { clusterPeers: [{}] } }))).toThrow(RenderError);
  });

  it("openInternet: 0.0.0.0/0 except RFC1918 and link-local (metadata)", () => {
    const rules = egressOf(spec({ egress: "allowlist", allowlist: { openInternet: true, ports: [{ port: 443 }] } }));
    expect(rules.slice(0, 2)).toEqual([natsRule, dnsRule]);
    expect(rules[2]).toEqual({
      to: [
        { ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"] } },
      ],
      ports: [{ protocol: "TCP", port: 443 }],
    });
    expect([...OPEN_INTERNET_EXCEPT]).toContain("169.254.0.0/16");
  });

  it("uses the context's DNS and NATS ports", () => {
    const c = {
      ...ctx,
      nats: { ...ctx.nats, url: "nats://a.nats:4222, nats://b.nats:14222" },
      dns: { namespace: "dns", podLabels: { app: "coredns" } },
    };
    const rules = egressOf(spec({ egress: "allowlist", allowlist: { cidrs: ["203.0.113.0/24"] } }), c);
    expect(rules[0]?.ports).toEqual([
      { protocol: "TCP", port: 4222 },
      { protocol: "TCP", port: 14222 },
    ]);
    expect(rules[1]?.to).toEqual([
      {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "dns" } },
        podSelector: { matchLabels: { app: "coredns" } },
      },
    ]);
  });

  it("parses NATS ports", () => {
    expect(natsPorts("nats://nats.nats.svc:4222")).toEqual([4222]);
    expect(natsPorts("nats://nats.nats.svc")).toEqual([4222]);
    expect(natsPorts("tls://n1:4443,nats://n2:4222")).toEqual([4222, 4443]);
    expect(natsPorts("nats-host:5222")).toEqual([5222]);
    expect(() => natsPorts(" ")).toThrow(RenderError);
  });
});
