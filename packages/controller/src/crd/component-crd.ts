import { ComponentDefaults, DeployStatusSchema, componentSpecJsonSchema } from "@tessera/contract";
import { stringify } from "yaml";
import { toStructuralSchema, type CelValidationRule, type StructuralSchema } from "./structural-schema.js";

export const COMPONENT_GROUP = "tessera.dev";
export const COMPONENT_VERSION = "v1alpha1";
export const COMPONENT_KIND = "Component";
export const COMPONENT_PLURAL = "components";
export const COMPONENT_CRD_NAME = `${COMPONENT_PLURAL}.${COMPONENT_GROUP}`;
/** The CEL IP/CIDR libraries (`isCIDR`, `cidr()`, `ip()`) are usable in CRD rules from this Kubernetes version on. */
export const MIN_KUBERNETES_VERSION = "1.31";

const METADATA_IP = "169.254.169.254";
/**
 * The CRD's only deviation from the contract schema: an upper bound on `allowlist.cidrs`. The API server
 * rejects a CRD whose CEL rules' *estimated* cost is over budget, and a list without maxItems is estimated
 * from the 3 MiB request limit (~800k entries), which puts the per-CIDR rules over it. Keep this in step
 * with the contract if the contract ever bounds the list itself.
 */
export const CRD_MAX_ALLOWLIST_CIDRS = 256;

const CIDRS = "self.allowlist.cidrs";
const hasCidrs = `has(self.allowlist) && has(${CIDRS})`;
const durationIsZero = (field: string): string => `self.timeouts.${field}.matches('^(0+(ms|s|m|h))+$')`;

/**
 * The rules the Component JSON Schema cannot express, as CEL on `spec`. They mirror the contract's
 * `componentSpecRuleIssues`, which the controller runs too (and which stays the exact check):
 * - CIDRs use the Kubernetes CEL CIDR library (`isCIDR`, `cidr(c).prefixLength()`,
 *   `cidr(c).containsIP(ip(…))`), available in CRD validation rules from Kubernetes 1.31. It parses like Go's
 *   `netip.ParsePrefix`, so it also rejects IPv4-mapped IPv6 and zoned addresses, which Node's parser in the
 *   contract accepts; every CIDR it accepts is one the contract accepts.
 * - Defaults are applied before validation (`egress: none`, `inputMode: content-ref`), so rules read them
 *   directly; `scaling` defaults (0 and 10) are spelled out because they live in the controller, not the schema.
 * - CEL cannot parse a duration like "1h30m" into a number, but "zero" is exactly "only zero digits", a regex.
 * Every rule is total: it guards optional fields with has() and unparsable CIDRs with isCIDR(), so a bad value
 * is reported by the rule meant for it, never as a CEL runtime error.
 */
export function componentSpecCelRules(): CelValidationRule[] {
  return [
    {
      rule:
        "self.egress != 'allowlist' || (has(self.allowlist) && ((has(self.allowlist.cidrs) && size(self.allowlist.cidrs) > 0) || " +
        "(has(self.allowlist.clusterPeers) && size(self.allowlist.clusterPeers) > 0) || (has(self.allowlist.openInternet) && self.allowlist.openInternet)))",
      message:
        "egress allowlist needs at least one of allowlist.cidrs, allowlist.clusterPeers or allowlist.openInternet: true (or use egress none / fetch-controlled)",
      fieldPath: ".allowlist",
      reason: "FieldValueRequired",
    },
    {
      rule: "self.egress == 'allowlist' || !has(self.allowlist)",
      message: "allowlist is only used with egress allowlist: set egress: allowlist, or remove allowlist",
      fieldPath: ".allowlist",
      reason: "FieldValueForbidden",
    },
    {
      rule: `!(${hasCidrs}) || ${CIDRS}.all(c, isCIDR(c))`,
      message: "every allowlist.cidrs entry must be a CIDR such as 203.0.113.0/24 or 2001:db8::/32",
      fieldPath: ".allowlist.cidrs",
    },
    {
      rule: `!(${hasCidrs}) || ${CIDRS}.all(c, !isCIDR(c) || cidr(c).prefixLength() > 0)`,
      message:
        "a /0 CIDR is not allowed in allowlist.cidrs: use allowlist.openInternet: true for the whole internet (it keeps private ranges and 169.254.0.0/16 blocked)",
      fieldPath: ".allowlist.cidrs",
    },
    {
      rule: `!(${hasCidrs}) || ${CIDRS}.all(c, !isCIDR(c) || !cidr(c).containsIP(ip('${METADATA_IP}')))`,
      message: `allowlist.cidrs must not cover the cloud metadata address ${METADATA_IP}: narrow the CIDR so it excludes 169.254.0.0/16`,
      fieldPath: ".allowlist.cidrs",
    },
    {
      rule: "self.inputMode != 'source-locator' || self.egress != 'none'",
      message:
        "inputMode source-locator needs egress fetch-controlled or allowlist: a component with egress none cannot fetch its input",
      fieldPath: ".egress",
    },
    {
      rule:
        `!has(self.scaling) || (has(self.scaling.minReplicas) ? self.scaling.minReplicas : ${ComponentDefaults.minReplicas}) <= ` +
        `(has(self.scaling.maxReplicas) ? self.scaling.maxReplicas : ${ComponentDefaults.maxReplicas})`,
      message: `scaling.minReplicas must be at most scaling.maxReplicas (which defaults to ${ComponentDefaults.maxReplicas})`,
      fieldPath: ".scaling.minReplicas",
    },
    {
      rule: `!has(self.timeouts) || ((!has(self.timeouts.wallClock) || !${durationIsZero("wallClock")}) && (!has(self.timeouts.ackWait) || !${durationIsZero("ackWait")}))`,
      message: 'timeouts.wallClock and timeouts.ackWait must be above zero, e.g. "30s"',
      fieldPath: ".timeouts",
    },
    {
      rule: "!has(self.canary) || (has(self.canary.image) && self.canary.image != self.image) || has(self.canary.config)",
      message:
        "canary needs an image different from image, or config: a canary has to run something else (remove canary to end it)",
      fieldPath: ".canary",
    },
  ];
}

/** The spec schema: the contract's JSON Schema made structural, plus the CEL rules and the CIDR bound. */
export function componentSpecStructuralSchema(): StructuralSchema {
  const spec = toStructuralSchema(componentSpecJsonSchema());
  const cidrs = spec.properties?.["allowlist"]?.properties?.["cidrs"];
  if (cidrs === undefined)
    throw new Error("the contract's Component spec no longer has allowlist.cidrs; update componentSpecCelRules");
  cidrs.maxItems = Math.min(cidrs.maxItems ?? CRD_MAX_ALLOWLIST_CIDRS, CRD_MAX_ALLOWLIST_CIDRS);
  const { type, description, ...rest } = spec;
  return {
    type,
    description:
      description ??
      "The Component spec: what the controller renders into a Deployment, a KEDA ScaledObject, NetworkPolicies and a JetStream stream and consumer.",
    ...rest,
    "x-kubernetes-validations": [...(spec["x-kubernetes-validations"] ?? []), ...componentSpecCelRules()],
  };
}

function statusSchema(): StructuralSchema {
  // The deploy fields come from the contract (the CLI reads them); the rest is the controller's own.
  const deploy = toStructuralSchema(JSON.parse(JSON.stringify(DeployStatusSchema)));
  return {
    type: "object",
    description: "What the controller last observed; written only through the status subresource.",
    properties: {
      ...deploy.properties,
      observedGeneration: {
        type: "integer",
        format: "int64",
        minimum: 0,
        description: "The metadata.generation the status describes.",
      },
      replicas: {
        type: "integer",
        format: "int32",
        minimum: 0,
        description: "Worker pods, as the Deployment reports them (KEDA decides how many).",
      },
      conditions: {
        type: "array",
        description: "Valid, StreamReady and Ready, each with a reason and a message.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        items: {
          type: "object",
          required: ["type", "status"],
          properties: {
            type: { type: "string", minLength: 1, maxLength: 316, description: "Valid, StreamReady or Ready." },
            status: { type: "string", enum: ["True", "False", "Unknown"] },
            reason: { type: "string", maxLength: 1024, description: "A CamelCase reason code." },
            message: { type: "string", maxLength: 32768, description: "What happened, for a person." },
            lastTransitionTime: { type: "string", format: "date-time" },
            observedGeneration: { type: "integer", format: "int64", minimum: 0 },
          },
        },
      },
    },
  };
}

/** The whole-object schema: apiVersion, kind, metadata (the API server's own), spec (required) and status. */
export function componentOpenApiSchema(): StructuralSchema {
  return {
    type: "object",
    description:
      "A Tessera component: a worker image the controller runs as a hardened, autoscaled Deployment behind a JetStream work queue.",
    required: ["spec"],
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { type: "object" },
      spec: componentSpecStructuralSchema(),
      status: statusSchema(),
    },
  };
}

/** The printer columns `kubectl get components` shows. */
export const COMPONENT_PRINTER_COLUMNS = [
  {
    name: "Egress",
    type: "string",
    jsonPath: ".spec.egress",
    description: "The egress posture: none, fetch-controlled or allowlist.",
  },
  {
    name: "Maturity",
    type: "string",
    jsonPath: ".spec.maturity",
    description: "experimental, beta, stable, hardened or deprecated (empty: experimental).",
  },
  {
    name: "Ready",
    type: "string",
    jsonPath: '.status.conditions[?(@.type=="Ready")].status',
    description: "The Ready condition.",
  },
  {
    name: "Replicas",
    type: "integer",
    jsonPath: ".status.replicas",
    description: "Worker pods (KEDA decides how many).",
  },
  {
    name: "Canary",
    type: "integer",
    jsonPath: ".spec.canary.weight",
    description: "The canary's share of the workers in percent, while the component has one (docs/deploy.md#canary).",
  },
  {
    name: "Revision",
    type: "integer",
    jsonPath: ".status.revision",
    description: "The live deploy revision (docs/deploy.md#revisions-and-config).",
  },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
] as const;

export interface ComponentCustomResourceDefinition {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    scope: "Namespaced";
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: { name: string; type: string; jsonPath: string; description?: string }[];
      schema: { openAPIV3Schema: StructuralSchema };
    }[];
  };
}

/** The `components.tessera.dev` CustomResourceDefinition (apiextensions.k8s.io/v1), generated from the contract. */
export function componentCrd(): ComponentCustomResourceDefinition {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: COMPONENT_CRD_NAME, labels: { "app.kubernetes.io/part-of": "tessera" } },
    spec: {
      group: COMPONENT_GROUP,
      names: {
        kind: COMPONENT_KIND,
        listKind: `${COMPONENT_KIND}List`,
        plural: COMPONENT_PLURAL,
        singular: "component",
        shortNames: ["tcomp"],
        categories: ["tessera"],
      },
      scope: "Namespaced",
      versions: [
        {
          name: COMPONENT_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: COMPONENT_PRINTER_COLUMNS.map((c) => ({ ...c })),
          schema: { openAPIV3Schema: componentOpenApiSchema() },
        },
      ],
    },
  };
}

/** The CRD as a YAML document, for `tessera render --crd` and the install manifests. */
export function componentCrdYaml(): string {
  const header =
    "# Generated from the @tessera/contract Component schema by @tessera/controller componentCrdYaml(); do not edit.\n";
  return header + stringify(componentCrd(), { lineWidth: 0 });
}
