import { BlockList, isIP } from "node:net";
import { Type, type Static } from "@sinclair/typebox";
import { CanarySpecSchema, canaryIssues } from "./canary.js";
import { ConfigClassSchema, DEFAULT_CONFIG_CLASS, type ConfigClass } from "./config-class.js";
import { DURATION_PATTERN, parseDuration } from "./duration.js";
import { ContractValidationError, compileValidator, type Validated, type ValidationIssue } from "./validation-error.js";

const Duration = Type.String({ pattern: DURATION_PATTERN, description: 'a duration such as "30s", "5m" or "1h30m"' });
const Quantity = Type.String({
  pattern: "^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$",
  description: 'a Kubernetes quantity such as "500m", "256Mi" or "1"',
});
const ResourceList = Type.Object(
  { cpu: Type.Optional(Quantity), memory: Type.Optional(Quantity) },
  { additionalProperties: false },
);

export const EgressMode = { None: "none", FetchControlled: "fetch-controlled", Allowlist: "allowlist" } as const;
export type EgressMode = (typeof EgressMode)[keyof typeof EgressMode];
export const InputMode = { ContentRef: "content-ref", SourceLocator: "source-locator" } as const;
export type InputMode = (typeof InputMode)[keyof typeof InputMode];

const Port = Type.Object(
  {
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    protocol: Type.Optional(Type.Union([Type.Literal("TCP"), Type.Literal("UDP")])),
  },
  { additionalProperties: false },
);

const ClusterPeer = Type.Object(
  {
    namespace: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
    podLabels: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 317 }), Type.String({ maxLength: 63 })),
    ),
  },
  { additionalProperties: false },
);

/**
 * Limits the worker runtime enforces on each job's handler from outside it. One schema: the spec's
 * `handlerLimits` and the runtime option (`runWorker`'s `handlerLimits`) are this type.
 */
export const HandlerLimitsSchema = Type.Object(
  {
    /**
     * The V8 heap of the thread a job's handler runs in, in MiB. Default: derived from the job's
     * `max_bytes` (see docs/decisions/0022-handler-isolation.md). Buffers and typed arrays live outside it.
     */
    maxHeapMiB: Type.Optional(Type.Integer({ minimum: 16, maximum: 65_536 })),
    /** The largest output a handler may return, in bytes (bytes as they are, anything else as JSON). */
    maxOutputBytes: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
export type HandlerLimits = Static<typeof HandlerLimitsSchema>;
/** Checks handler limits given apart from a spec (a worker's environment). */
export const validateHandlerLimits = compileValidator<HandlerLimits>(HandlerLimitsSchema, "handlerLimits");

/** The environment variables a worker process reads its handlerLimits from; the controller and `tessera dev` set them. */
export const HANDLER_LIMITS_ENV = {
  maxHeapMiB: "TESSERA_HANDLER_MAX_HEAP_MIB",
  maxOutputBytes: "TESSERA_HANDLER_MAX_OUTPUT_BYTES",
} as const satisfies Record<keyof HandlerLimits, string>;

/** A spec's handlerLimits as a worker process's environment (only the limits it sets). */
export function handlerLimitsEnv(limits: HandlerLimits | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [field, name] of Object.entries(HANDLER_LIMITS_ENV) as Array<[keyof HandlerLimits, string]>) {
    const value = limits?.[field];
    if (value !== undefined) env[name] = String(value);
  }
  return env;
}

/**
 * How far a component is along the ladder (docs/contract.md#maturity), lowest first; `deprecated` is the way
 * off it. Shown beside the component (dashboard, `tessera components`, `kubectl get components`).
 */
export const MATURITY_LEVELS = ["experimental", "beta", "stable", "hardened", "deprecated"] as const;
export const MaturitySchema = Type.Union(
  MATURITY_LEVELS.map((m) => Type.Literal(m)),
  { description: "experimental, beta, stable, hardened or deprecated (default experimental)" },
);
export type Maturity = Static<typeof MaturitySchema>;
export const DEFAULT_MATURITY: Maturity = "experimental";

const ConfigKey = Type.String({ minLength: 1, maxLength: 253 });

/**
 * The verbs a Component's RBAC may grant. No "*", and never escalate, bind or impersonate: those let the
 * workload grant itself more than the spec declares (docs/decisions/0039-rbac-and-secrets-from-the-spec.md).
 */
export const RBAC_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"] as const;
const NoWildcard = (minLength: number) =>
  Type.String({ minLength, maxLength: 253, pattern: "^[^*]*$", description: 'a name, never the wildcard "*"' });
export const RbacRuleSchema = Type.Object(
  {
    /** "" is the core group (configmaps, secrets, pods). */
    apiGroups: Type.Array(NoWildcard(0), { minItems: 1 }),
    resources: Type.Array(NoWildcard(1), { minItems: 1 }),
    /** Only these objects; omitted: every object of the resources in the namespace. */
    resourceNames: Type.Optional(Type.Array(NoWildcard(1), { minItems: 1 })),
    verbs: Type.Array(
      Type.Union(
        RBAC_VERBS.map((v) => Type.Literal(v)),
        { description: RBAC_VERBS.join(", ") },
      ),
      { minItems: 1 },
    ),
  },
  { additionalProperties: false },
);
export type RbacRule = Static<typeof RbacRuleSchema>;
/**
 * What a component's workload may do against the Kubernetes API. Declared: the controller renders a
 * ServiceAccount for it, a Role with `rules` and RoleBindings (to that Role and to each named ClusterRole,
 * bound in the component's namespace only), and mounts the token. Not declared: no token at all.
 */
export const RbacSchema = Type.Object(
  {
    rules: Type.Optional(Type.Array(RbacRuleSchema, { minItems: 1 })),
    /** ClusterRoles (e.g. "view") bound with a RoleBinding, so they apply in the component's namespace only. */
    clusterRoles: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 253, pattern: "^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$" }), {
        minItems: 1,
      }),
    ),
  },
  { additionalProperties: false },
);
export type Rbac = Static<typeof RbacSchema>;

export const ComponentSpecSchema = Type.Object(
  {
    image: Type.String({ minLength: 1, maxLength: 1024 }),
    /** Subjects this component's stream captures; defaults to `jobSubject(name)`. */
    jobSubjects: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { minItems: 1 })),
    inputMode: Type.Union([Type.Literal("content-ref"), Type.Literal("source-locator")], { default: "content-ref" }),
    egress: Type.Union([Type.Literal("none"), Type.Literal("fetch-controlled"), Type.Literal("allowlist")], {
      default: "none",
    }),
    allowlist: Type.Optional(
      Type.Object(
        {
          cidrs: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }))),
          clusterPeers: Type.Optional(Type.Array(ClusterPeer)),
          openInternet: Type.Optional(Type.Boolean()),
          ports: Type.Optional(Type.Array(Port)),
        },
        { additionalProperties: false },
      ),
    ),
    config: Type.Optional(Type.Record(ConfigKey, Type.String())),
    /**
     * A ConfigMap in the component's namespace whose data is merged over `config` (a key there wins) without a new
     * image; a change to it records a new revision and rolls the pods (docs/deploy.md#config-overlays).
     */
    configOverlay: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 253,
        pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description: "the name of a ConfigMap in the component's namespace",
      }),
    ),
    /** Deploy revisions kept (the live one always among them); default 10. */
    revisionHistoryLimit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    /**
     * The class of each `config` key and `secretRefs` env (docs/contract.md#config-classes); a key not listed
     * is internal, a secretRef is secret. A `config` value is written in the manifest, so it is never secret.
     */
    configClasses: Type.Optional(Type.Record(ConfigKey, ConfigClassSchema)),
    secretRefs: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 253 }),
            key: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
            env: Type.Optional(
              Type.String({ pattern: "^[A-Za-z_][A-Za-z0-9_]*$", description: "an environment variable name" }),
            ),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    resources: Type.Optional(
      Type.Object(
        { requests: Type.Optional(ResourceList), limits: Type.Optional(ResourceList) },
        { additionalProperties: false },
      ),
    ),
    timeouts: Type.Optional(
      Type.Object(
        { wallClock: Type.Optional(Duration), ackWait: Type.Optional(Duration) },
        { additionalProperties: false },
      ),
    ),
    /** Deliveries before a job is dead-lettered. */
    maxDeliver: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    /** Largest input a worker reads, in bytes. */
    maxBytes: Type.Optional(Type.Integer({ minimum: 1 })),
    handlerLimits: Type.Optional(HandlerLimitsSchema),
    scratchVolume: Type.Optional(
      Type.Object(
        { mountPath: Type.String({ pattern: "^/", description: "an absolute path" }), sizeLimit: Quantity },
        { additionalProperties: false },
      ),
    ),
    scaling: Type.Optional(
      Type.Object(
        {
          minReplicas: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
          maxReplicas: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          queueDepthTarget: Type.Optional(Type.Integer({ minimum: 1 })),
          cooldownPeriod: Type.Optional(Duration),
          /**
           * How often KEDA reads the consumer's lag (KEDA's default: 30 s); a component at zero replicas wakes
           * up at most this long after a job is queued. Whole seconds, at least 1.
           */
          pollingInterval: Type.Optional(Duration),
        },
        { additionalProperties: false },
      ),
    ),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    maturity: Type.Optional(MaturitySchema),
    /** The workload's Kubernetes API permissions (a ServiceAccount and its token only when declared). */
    rbac: Type.Optional(RbacSchema),
    /** Reserved for interactive components (request/reply); only "job" exists in this version. */
    interactionType: Type.Optional(Type.Literal("job")),
    /** A second Deployment on the same stream and consumer (docs/deploy.md#canary); ended by promote or abort. */
    canary: Type.Optional(CanarySpecSchema),
  },
  { additionalProperties: false },
);
export type ComponentSpec = Static<typeof ComponentSpecSchema>;

/** Component names become Kubernetes object names, so they are DNS-1123 labels. */
export const COMPONENT_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export function componentNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string" || name.length === 0) return "expected a non-empty string";
  if (name.length > 63) return `expected at most 63 characters, got ${name.length}`;
  if (!COMPONENT_NAME_PATTERN.test(name))
    return "expected a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit";
  return undefined;
}

export const ComponentDefaults = {
  wallClockMs: 60_000,
  ackWaitMs: 30_000,
  maxDeliver: 5,
  maxBytes: 32 * 1024 * 1024,
  maxOutputBytes: 32 * 1024 * 1024,
  concurrency: 1,
  minReplicas: 0,
  maxReplicas: 10,
  queueDepthTarget: 10,
  duplicateWindowMs: 120_000,
  revisionHistoryLimit: 10,
} as const;

const METADATA_IP = "169.254.169.254";

function cidrIssues(cidr: string, path: string): ValidationIssue[] {
  const [addr, prefixText, extra] = cidr.split("/");
  const family = addr === undefined ? 0 : isIP(addr);
  const prefix = Number(prefixText);
  const max = family === 6 ? 128 : 32;
  if (extra !== undefined || family === 0 || prefixText === undefined || !/^\d+$/.test(prefixText) || prefix > max) {
    return [{ path, expected: "a CIDR such as 203.0.113.0/24 or 2001:db8::/32", received: JSON.stringify(cidr) }];
  }
  if (prefix === 0) {
    return [
      {
        path,
        expected: "a CIDR narrower than /0 (use openInternet: true for the whole internet)",
        received: JSON.stringify(cidr),
      },
    ];
  }
  const block = new BlockList();
  block.addSubnet(addr as string, prefix, family === 6 ? "ipv6" : "ipv4");
  if (family === 4 && block.check(METADATA_IP, "ipv4")) {
    return [
      {
        path,
        expected: `a CIDR that does not cover the cloud metadata address ${METADATA_IP}`,
        received: JSON.stringify(cidr),
      },
    ];
  }
  return [];
}

/** The rules JSON Schema cannot express. The controller issue mirrors them as CEL rules in the CRD. */
export function componentSpecRuleIssues(spec: ComponentSpec): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const allow = spec.allowlist;
  if (spec.egress === "allowlist") {
    const hasAny =
      (allow?.cidrs?.length ?? 0) > 0 || (allow?.clusterPeers?.length ?? 0) > 0 || allow?.openInternet === true;
    if (!hasAny) {
      issues.push({
        path: "allowlist",
        expected: "at least one of cidrs, clusterPeers or openInternet: true when egress is allowlist",
        received: allow === undefined ? "nothing (field missing)" : "none of them",
      });
    }
  } else if (allow !== undefined) {
    issues.push({
      path: "allowlist",
      expected: "no allowlist unless egress is allowlist",
      received: `egress ${JSON.stringify(spec.egress)}`,
    });
  }
  allow?.cidrs?.forEach((c, i) => issues.push(...cidrIssues(c, `allowlist.cidrs[${i}]`)));
  if (spec.inputMode === "source-locator" && spec.egress === "none") {
    issues.push({
      path: "egress",
      expected:
        "fetch-controlled or allowlist when inputMode is source-locator (a component with no egress cannot fetch its input)",
      received: 'string "none"',
    });
  }
  const min = spec.scaling?.minReplicas ?? ComponentDefaults.minReplicas;
  const max = spec.scaling?.maxReplicas ?? ComponentDefaults.maxReplicas;
  if (min > max)
    issues.push({
      path: "scaling.minReplicas",
      expected: `at most scaling.maxReplicas (${max})`,
      received: `number ${min}`,
    });
  issues.push(...configClassIssues(spec));
  issues.push(...canaryIssues(spec));
  const wall = spec.timeouts?.wallClock;
  const ack = spec.timeouts?.ackWait;
  for (const [field, value] of [
    ["timeouts.wallClock", wall],
    ["timeouts.ackWait", ack],
  ] as const) {
    if (value !== undefined && parseDuration(value) === 0)
      issues.push({ path: field, expected: "a duration above zero", received: JSON.stringify(value) });
  }
  return issues;
}

/** "openai-api-key" → "OPENAI_API_KEY"; a leading digit gets a "_" prefix; "" when nothing is left. */
export function upperSnake(text: string): string {
  const snake = text
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .toUpperCase();
  if (snake === "") return "";
  return /^[0-9]/.test(snake) ? `_${snake}` : snake;
}

/** The env name a secretRef gives its value: `env`, else the upper-snake form of its key (or name). */
export function secretRefEnvName(ref: { name: string; key?: string | undefined; env?: string | undefined }): string {
  return ref.env ?? upperSnake(ref.key ?? ref.name);
}

/** Every config key and secretRef env of a spec with its class (secretRefs are secret; undeclared keys internal). */
export function componentConfigClasses(spec: ComponentSpec): Array<{ key: string; class: ConfigClass }> {
  const declared = spec.configClasses ?? {};
  return [
    ...Object.keys(spec.config ?? {}).map((key) => ({ key, class: declared[key] ?? DEFAULT_CONFIG_CLASS })),
    ...(spec.secretRefs ?? []).map((ref) => ({ key: secretRefEnvName(ref), class: "secret" as const })),
  ];
}

/** configClasses must name keys that exist, may not call a value written in the manifest secret, nor a secretRef anything else. */
function configClassIssues(spec: ComponentSpec): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const secretEnvs = new Set((spec.secretRefs ?? []).map(secretRefEnvName));
  for (const [key, cls] of Object.entries(spec.configClasses ?? {})) {
    const path = `configClasses.${key}`;
    if (Object.hasOwn(spec.config ?? {}, key)) {
      // The value is in the manifest (and so in every copy of it): it cannot be a secret. Never repeat it.
      if (cls === "secret")
        issues.push({
          path,
          expected: `public, internal or local-only for a value written in config (put a secret in a Kubernetes Secret and name it in secretRefs with env ${key})`,
          received: `"secret" (config.${key} holds a value, not shown)`,
        });
    } else if (secretEnvs.has(key)) {
      if (cls !== "secret")
        issues.push({ path, expected: `"secret" (a secretRefs entry is secret)`, received: JSON.stringify(cls) });
    } else {
      issues.push({
        path,
        expected: "a key of config or the env of a secretRefs entry",
        received: `a class for ${JSON.stringify(key)}, which neither declares`,
      });
    }
  }
  return issues;
}

const checkShape = compileValidator<ComponentSpec>(ComponentSpecSchema, "Component spec");

/** Validates a Component spec: its shape, then the cross-field rules. Defaults are not applied here. */
export function validateComponentSpec(value: unknown): Validated<ComponentSpec> {
  const withDefaults =
    typeof value === "object" && value !== null && !Array.isArray(value)
      ? { inputMode: "content-ref", egress: "none", ...(value as Record<string, unknown>) }
      : value;
  const shaped = checkShape(withDefaults);
  if (!shaped.ok) return shaped;
  const issues = componentSpecRuleIssues(shaped.value);
  return issues.length === 0 ? shaped : { ok: false, error: new ContractValidationError("Component spec", issues) };
}

/** What the bus needs of a component, with the spec's defaults applied. */
export interface ComponentBusSettings {
  name: string;
  ackWaitMs: number;
  maxDeliver: number;
  duplicateWindowMs: number;
  /** Extra subjects the stream captures besides `jobSubject(name)`. */
  jobSubjects?: readonly string[];
}

export function busSettingsFromSpec(name: string, spec: ComponentSpec): ComponentBusSettings {
  const problem = componentNameProblem(name);
  if (problem !== undefined)
    throw new ContractValidationError("Component", [
      { path: "metadata.name", expected: problem.replace(/^expected /, ""), received: JSON.stringify(name) },
    ]);
  return {
    name,
    ackWaitMs:
      spec.timeouts?.ackWait !== undefined ? parseDuration(spec.timeouts.ackWait) : ComponentDefaults.ackWaitMs,
    maxDeliver: spec.maxDeliver ?? ComponentDefaults.maxDeliver,
    duplicateWindowMs: ComponentDefaults.duplicateWindowMs,
    ...(spec.jobSubjects !== undefined ? { jobSubjects: spec.jobSubjects } : {}),
  };
}

/** The Component spec as plain JSON Schema (draft 2020-12 compatible), the source the CRD is generated from. */
export function componentSpecJsonSchema(): Record<string, unknown> {
  return JSON.parse(JSON.stringify(ComponentSpecSchema)) as Record<string, unknown>;
}
