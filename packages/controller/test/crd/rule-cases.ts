/**
 * Specs (before defaulting) for the CRD's CEL rules, each with the fieldPath(s) of the rules that must fail
 * and the contract issue path(s) componentSpecRuleIssues must report; valid specs fail neither. One table for
 * the offline CEL interpreter (test/crd) and the real API server (the cluster tier).
 */
import { componentSpecCelRules } from "../../src/crd/index.js";
import { evaluateCel } from "./cel-subset.js";

/** The spec as the API server validates it: after the schema's defaults are applied. */
export function defaulted(spec: Record<string, unknown>): Record<string, unknown> {
  return { inputMode: "content-ref", egress: "none", ...spec };
}

/** The rules the offline CEL interpreter finds failing, in rule order (what the API server must report). */
export function failingRules(
  spec: Record<string, unknown>,
): { fieldPath: string | undefined; message: string; error?: string }[] {
  return componentSpecCelRules().flatMap((r) => {
    const result = evaluateCel(r.rule, defaulted(spec));
    if (result === true) return [];
    return [
      { fieldPath: r.fieldPath, message: r.message, ...(typeof result === "object" ? { error: result.error } : {}) },
    ];
  });
}

export interface RuleCase {
  name: string;
  spec: Record<string, unknown>;
  cel: string[];
  contract: string[];
}

export const CEL_RULE_CASES: RuleCase[] = [
  { name: "minimal", spec: { image: "x" }, cel: [], contract: [] },
  {
    name: "allowlist with cidrs",
    spec: { image: "x", egress: "allowlist", allowlist: { cidrs: ["203.0.113.0/24", "2001:db8::/32"] } },
    cel: [],
    contract: [],
  },
  {
    name: "allowlist with peers only",
    spec: { image: "x", egress: "allowlist", allowlist: { clusterPeers: [{ namespace: "db" }] } },
    cel: [],
    contract: [],
  },
  {
    name: "allowlist with openInternet",
    spec: { image: "x", egress: "allowlist", allowlist: { openInternet: true } },
    cel: [],
    contract: [],
  },
  {
    name: "allowlist missing",
    spec: { image: "x", egress: "allowlist" },
    cel: [".allowlist"],
    contract: ["allowlist"],
  },
  {
    name: "allowlist empty",
    spec: { image: "x", egress: "allowlist", allowlist: { cidrs: [], openInternet: false, ports: [{ port: 443 }] } },
    cel: [".allowlist"],
    contract: ["allowlist"],
  },
  {
    name: "allowlist without egress allowlist",
    spec: { image: "x", egress: "fetch-controlled", allowlist: { openInternet: true } },
    cel: [".allowlist"],
    contract: ["allowlist"],
  },
  {
    name: "not a CIDR",
    spec: { image: "x", egress: "allowlist", allowlist: { cidrs: ["example.com"] } },
    cel: [".allowlist.cidrs"],
    contract: ["allowlist.cidrs[0]"],
  },
  {
    name: "prefix too long",
    spec: { image: "x", egress: "allowlist", allowlist: { cidrs: ["10.0.0.0/33"] } },
    cel: [".allowlist.cidrs"],
    contract: ["allowlist.cidrs[0]"],
  },
  {
    name: "/0",
    spec: { image: "x", egress: "allowlist", allowlist: { cidrs: ["0.0.0.0/0"] } },
    cel: [".allowlist.cidrs", ".allowlist.cidrs"],
    contract: ["allowlist.cidrs[0]"],
  },
  {
    name: "IPv6 /0",
    spec: { image: "x", egress: "allowlist", allowlist: { cidrs: ["::/0"] } },
    cel: [".allowlist.cidrs"],
    contract: ["allowlist.cidrs[0]"],
  },
  {
    name: "metadata /16",
    spec: { image: "x", egress: "allowlist", allowlist: { cidrs: ["169.254.0.0/16"] } },
    cel: [".allowlist.cidrs"],
    contract: ["allowlist.cidrs[0]"],
  },
  {
    name: "metadata /32",
    spec: { image: "x", egress: "allowlist", allowlist: { cidrs: ["169.254.169.254/32"] } },
    cel: [".allowlist.cidrs"],
    contract: ["allowlist.cidrs[0]"],
  },
  {
    name: "covering 160.0.0.0/3",
    spec: { image: "x", egress: "allowlist", allowlist: { cidrs: ["203.0.113.0/24", "160.0.0.0/3"] } },
    cel: [".allowlist.cidrs"],
    contract: ["allowlist.cidrs[1]"],
  },
  {
    name: "covering 128.0.0.0/1",
    spec: { image: "x", egress: "allowlist", allowlist: { cidrs: ["128.0.0.0/1"] } },
    cel: [".allowlist.cidrs"],
    contract: ["allowlist.cidrs[0]"],
  },
  {
    name: "near the metadata address",
    spec: { image: "x", egress: "allowlist", allowlist: { cidrs: ["169.254.170.0/24", "169.255.0.0/16"] } },
    cel: [],
    contract: [],
  },
  {
    name: "source-locator with egress none",
    spec: { image: "x", inputMode: "source-locator" },
    cel: [".egress"],
    contract: ["egress"],
  },
  {
    name: "source-locator with fetch-controlled",
    spec: { image: "x", inputMode: "source-locator", egress: "fetch-controlled" },
    cel: [],
    contract: [],
  },
  {
    name: "minReplicas above maxReplicas",
    spec: { image: "x", scaling: { minReplicas: 5, maxReplicas: 2 } },
    cel: [".scaling.minReplicas"],
    contract: ["scaling.minReplicas"],
  },
  {
    name: "minReplicas above the default max",
    spec: { image: "x", scaling: { minReplicas: 11 } },
    cel: [".scaling.minReplicas"],
    contract: ["scaling.minReplicas"],
  },
  {
    name: "minReplicas equal to maxReplicas",
    spec: { image: "x", scaling: { minReplicas: 3, maxReplicas: 3 } },
    cel: [],
    contract: [],
  },
  {
    name: "zero wallClock",
    spec: { image: "x", timeouts: { wallClock: "0s", ackWait: "30s" } },
    cel: [".timeouts"],
    contract: ["timeouts.wallClock"],
  },
  {
    name: "zero ackWait",
    spec: { image: "x", timeouts: { ackWait: "0m00s" } },
    cel: [".timeouts"],
    contract: ["timeouts.ackWait"],
  },
  {
    name: "non-zero durations",
    spec: { image: "x", timeouts: { wallClock: "0h10s", ackWait: "100ms" } },
    cel: [],
    contract: [],
  },
  {
    name: "canary with a new image",
    spec: { image: "x:1", canary: { image: "x:2", weight: 10 } },
    cel: [],
    contract: [],
  },
  {
    name: "canary with config only",
    spec: { image: "x", config: { MODE: "a" }, canary: { config: { MODE: "b" }, weight: 50 } },
    cel: [],
    contract: [],
  },
  {
    name: "canary with neither image nor config",
    spec: { image: "x", canary: { weight: 10 } },
    cel: [".canary"],
    contract: ["canary"],
  },
  {
    name: "canary with the component's own image",
    spec: { image: "x:1", canary: { image: "x:1", weight: 10 } },
    cel: [".canary"],
    contract: ["canary"],
  },
];
