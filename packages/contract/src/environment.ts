import { componentConfigClasses, type ComponentSpec } from "./component-spec.js";

/**
 * Where a deployment runs (`TESSERA_ENV`). The guard rails below are one rule set for every process that
 * starts something: production refuses what would lose work or open the API, staging warns about the same
 * things, local (the default, a laptop) checks nothing.
 */
export const ENVIRONMENTS = ["local", "staging", "production"] as const;
export type TesseraEnvironment = (typeof ENVIRONMENTS)[number];
export const DEFAULT_ENVIRONMENT: TesseraEnvironment = "local";
export const ENVIRONMENT_VARIABLE = "TESSERA_ENV";

/** The environment named by `value` (unset or empty: local); anything else throws, naming the variable. */
export function parseEnvironment(value: string | undefined): TesseraEnvironment {
  if (value === undefined || value.trim() === "") return DEFAULT_ENVIRONMENT;
  const name = value.trim().toLowerCase();
  if ((ENVIRONMENTS as readonly string[]).includes(name)) return name as TesseraEnvironment;
  throw new Error(`${ENVIRONMENT_VARIABLE}: expected one of ${ENVIRONMENTS.join(", ")}, got ${JSON.stringify(value)}`);
}

/** What a starting process knows about how it is deployed; each rule reads only the facts it needs. */
export interface DeploymentFacts {
  /** Where the coordinator keeps jobs: in memory (the memory store, PGlite in memory) or durably. */
  store?: { kind: "memory" | "embedded-memory" | "embedded-disk" | "postgres" };
  /** The bus, and whether the component workers run in this process or elsewhere. */
  bus?: {
    kind: "inprocess" | "jetstream";
    workers: "in-process" | "elsewhere";
    /** The NATS server is part of a cluster (its INFO names one). */
    clustered?: boolean;
    /** Replicas of the streams the bus creates. */
    streamReplicas?: number;
  };
  /** The admin API: where it listens, and whether a request without the admin token may change state. */
  admin?: { host: string; changesWithoutToken: boolean; loopback: boolean };
  /** Settings that have a value in force, with their class (a local-only one is refused outside local). */
  settings?: ReadonlyArray<{ name: string; class: string; source: string }>;
  /** Components this process registers or runs: only their local-only config is checked. */
  components?: ReadonlyArray<{ name: string; spec: ComponentSpec }>;
  /** Components about to be rendered as Kubernetes manifests (their local-only config is checked too). */
  manifests?: ReadonlyArray<{ name: string; spec: ComponentSpec }>;
  /**
   * The channel gateway: whether its inbound stream is JetStream or `tessera dev`'s in-process stand-in (a
   * duplicate window in this process's memory), and which mounted adapters take webhooks unsigned.
   */
  gateway?: { inbound: "jetstream" | "in-process"; unsignedAdapters: readonly string[] };
}

export type GuardRailRule =
  | "durable_store"
  | "bus_reaches_workers"
  | "admin_token"
  | "replicated_streams"
  | "component_resources"
  | "local_only_config"
  | "gateway_inbound_stream"
  | "unsigned_webhooks";

/**
 * Rules refused in staging too, not only warned about: a local-only value has no business beyond a laptop,
 * nor has an endpoint that takes anybody's webhook.
 */
const REFUSED_OUTSIDE_LOCAL: ReadonlySet<GuardRailRule> = new Set(["local_only_config", "unsigned_webhooks"]);

export interface GuardRailFinding {
  rule: GuardRailRule;
  /** What is wrong and how to fix it, in one sentence a log line or a terminal can show. */
  message: string;
}

/** Every rule the facts break, whatever the environment (`guardRailVerdict` decides what each means). */
export function guardRailFindings(facts: DeploymentFacts): GuardRailFinding[] {
  const found: GuardRailFinding[] = [];
  const { store, bus, admin, manifests, settings, components, gateway } = facts;
  if (gateway?.inbound === "in-process")
    found.push({
      rule: "gateway_inbound_stream",
      message:
        "the gateway stores inbound messages in this process's memory (the embedded stand-in for its JetStream stream): a restart loses them and their duplicate window; run `tessera gateway --nats <url>`",
    });
  if (gateway !== undefined && gateway.unsignedAdapters.length > 0)
    found.push({
      rule: "unsigned_webhooks",
      message: `the gateway mounts ${gateway.unsignedAdapters.join(", ")}, which take webhooks without a signature; mount only signing adapters outside local`,
    });
  if (store !== undefined && (store.kind === "memory" || store.kind === "embedded-memory"))
    found.push({
      rule: "durable_store",
      message: `jobs are kept in memory (${store.kind === "memory" ? "the memory store" : "PGlite in memory"}) and lost when the process ends; set DATABASE_URL to a Postgres`,
    });
  if (bus !== undefined && bus.kind === "inprocess" && bus.workers === "elsewhere")
    found.push({
      rule: "bus_reaches_workers",
      message:
        "the in-process bus reaches only workers in this process, and these components' workers run elsewhere; connect a JetStream bus (NATS_URL)",
    });
  if (bus !== undefined && bus.kind === "jetstream" && bus.clustered === true && (bus.streamReplicas ?? 1) < 2)
    found.push({
      rule: "replicated_streams",
      message: `the NATS server is clustered but the bus creates streams with ${bus.streamReplicas ?? 1} replica, so losing one server loses its jobs; create the bus with streamReplicas: 3`,
    });
  if (admin !== undefined && !admin.loopback && admin.changesWithoutToken)
    found.push({
      rule: "admin_token",
      message: `the admin API listens on ${admin.host}, beyond loopback, and allows changes without a token; set TESSERA_ADMIN_TOKEN`,
    });
  for (const s of settings ?? [])
    if (s.class === "local-only")
      found.push({
        rule: "local_only_config",
        message: `setting ${s.name} is local-only and has a value (from ${s.source}); unset it outside local`,
      });
  for (const c of [...(components ?? []), ...(manifests ?? [])]) {
    const localOnly = componentConfigClasses(c.spec).filter((k) => k.class === "local-only");
    if (localOnly.length > 0)
      found.push({
        rule: "local_only_config",
        message: `component ${c.name}: config ${localOnly.map((k) => k.key).join(", ")} is local-only; remove it from the manifest outside local`,
      });
  }
  for (const m of manifests ?? []) {
    const r = m.spec.resources;
    const missing = [
      ...(r?.requests?.cpu === undefined ? ["requests.cpu"] : []),
      ...(r?.requests?.memory === undefined ? ["requests.memory"] : []),
      ...(r?.limits?.memory === undefined ? ["limits.memory"] : []),
    ];
    if (missing.length > 0)
      found.push({
        rule: "component_resources",
        message: `component ${m.name}: spec.resources ${missing.join(", ")} not set, so the scheduler cannot place it safely and nothing bounds its memory`,
      });
  }
  return found;
}

/**
 * What the environment makes of the findings: production refuses all of them, staging warns (but refuses
 * local-only values, like production), local ignores them.
 */
export function guardRailVerdict(
  environment: TesseraEnvironment,
  findings: readonly GuardRailFinding[],
): { refuse: GuardRailFinding[]; warn: GuardRailFinding[] } {
  if (environment === "production") return { refuse: [...findings], warn: [] };
  if (environment === "staging")
    return {
      refuse: findings.filter((f) => REFUSED_OUTSIDE_LOCAL.has(f.rule)),
      warn: findings.filter((f) => !REFUSED_OUTSIDE_LOCAL.has(f.rule)),
    };
  return { refuse: [], warn: [] };
}

/** A production process refusing to start (or render); the CLI exits with code 2 (a configuration error). */
export class GuardRailError extends Error {
  override readonly name = "GuardRailError";
  constructor(
    readonly environment: TesseraEnvironment,
    readonly findings: readonly GuardRailFinding[],
    /** What was refused, for the message: "start", "render". */
    readonly action = "start",
  ) {
    super(
      `refusing to ${action} in ${environment} (${ENVIRONMENT_VARIABLE}): ${findings.map((f) => `[${f.rule}] ${f.message}`).join("; ")}`,
    );
  }
}

/**
 * Applies the environment's verdict: throws GuardRailError for what it refuses, hands each warning to `warn`.
 * Called by every process that starts something, with the facts it knows.
 */
export function enforceGuardRails(
  environment: TesseraEnvironment,
  facts: DeploymentFacts,
  warn: (finding: GuardRailFinding) => void,
  action = "start",
): void {
  const { refuse, warn: warnings } = guardRailVerdict(environment, guardRailFindings(facts));
  if (refuse.length > 0) throw new GuardRailError(environment, refuse, action);
  for (const w of warnings) warn(w);
}
