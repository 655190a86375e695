import {
  DEFAULT_ENVIRONMENT,
  DURATION_PATTERN,
  ENVIRONMENTS,
  ENVIRONMENT_VARIABLE,
  parseDuration,
  parseEnvironment,
  type ConfigClass,
  type TesseraEnvironment,
} from "@tessera/contract";
import type { EgressAllowlist } from "@tessera/egress";
import { parseFetchAllow, parseSourceSecrets } from "../sources/source-config.js";
import type { KeyLimits, SettingCategory, SettingKey } from "../types.js";

/**
 * One setting: where it may come from and how its value is checked. `parse` gets a value from the DB,
 * the settings file or the API, or the raw string from the environment (`fromEnv`), and returns the
 * checked value or throws with what was expected.
 */
export interface SettingDefinition<T = unknown> extends SettingKey<T> {
  name: string;
  category: SettingCategory;
  env: string;
  description: string;
  default: unknown;
  /**
   * Who may see the value (docs/contract.md#config-classes): a secret is listed as "(set)" or null and
   * scrubbed from error messages; a local-only one is refused outside local when it has a value.
   */
  class: ConfigClass;
  /** The checked value: its type is the setting's type, which `Settings.read(definition)` returns. */
  parse(value: unknown, fromEnv: boolean): T;
}

export function envNameOf(prefix: string, name: string): string {
  return `${prefix}${name
    .replace(/[^A-Za-z0-9]+/g, "_")
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toUpperCase()}`;
}

function integer(min: number, max: number) {
  return (value: unknown, fromEnv: boolean): number => {
    const n = fromEnv && typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max)
      throw new Error(`expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    return n;
  };
}

function text(pattern?: RegExp, what = "a non-empty string") {
  return (value: unknown): string => {
    if (typeof value !== "string" || value.length === 0 || (pattern !== undefined && !pattern.test(value)))
      throw new Error(`expected ${what}, got ${JSON.stringify(value)}`);
    return value;
  };
}

/** Like text(), but the message never repeats the value: it is a secret. */
function adminToken(value: unknown): string {
  if (typeof value !== "string" || !/^[\x21-\x7e]{16,}$/.test(value))
    throw new Error("expected at least 16 printable ASCII characters without spaces (the value is not shown)");
  return value;
}

// One DNS label after another; each label starts with a literal dot, so matching is linear.
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** Host names, lower-cased and without a trailing dot; from the environment, a comma-separated list. */
function hostNames(value: unknown, fromEnv: boolean): string[] {
  const items =
    fromEnv && typeof value === "string"
      ? value
          .split(",")
          .map((item) => item.trim())
          .filter((item) => item !== "")
      : value;
  const names = Array.isArray(items)
    ? items.map((item) => (typeof item === "string" ? item.toLowerCase().replace(/\.$/, "") : item))
    : [];
  if (names.length === 0 || !names.every((name) => typeof name === "string" && HOST_NAME.test(name)))
    throw new Error(
      `expected a list of host names such as ["tessera.internal", "coordinator.tessera.svc"] (comma-separated in the environment), got ${JSON.stringify(value)}`,
    );
  return names as string[];
}

/** Shared values are any JSON; from the environment, a string that parses as JSON is taken as that JSON. */
function anyJson(value: unknown, fromEnv: boolean): unknown {
  if (fromEnv && typeof value === "string") {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  if (value === undefined) throw new Error("expected a JSON value, got nothing");
  return value;
}

function keyLimits(value: unknown, fromEnv: boolean): KeyLimits | null {
  const v = fromEnv && typeof value === "string" ? safeJson(value) : value;
  if (v === null) return null;
  if (typeof v !== "object" || Array.isArray(v))
    throw new Error(
      `expected {"key": "<metadata field>", "concurrency"?: n, "rate"?: {"limit": n, "intervalMs": n}} or null, got ${JSON.stringify(value)}`,
    );
  const o = v as Record<string, unknown>;
  const unknownField = Object.keys(o).find((k) => !["key", "concurrency", "rate"].includes(k));
  if (unknownField !== undefined) throw new Error(`unknown field "${unknownField}" (expected key, concurrency, rate)`);
  if (typeof o.key !== "string" || o.key.length === 0)
    throw new Error(
      `key: expected the metadata field holding the limit key (e.g. "tenant"), got ${JSON.stringify(o.key)}`,
    );
  const out: KeyLimits = { key: o.key };
  if (o.concurrency !== undefined) out.concurrency = integer(1, 100_000)(o.concurrency, false);
  if (o.rate !== undefined) {
    const r = o.rate as Record<string, unknown> | null;
    if (typeof r !== "object" || r === null)
      throw new Error(`rate: expected {"limit": n, "intervalMs": n}, got ${JSON.stringify(o.rate)}`);
    out.rate = {
      limit: integer(1, 1_000_000)(r.limit, false),
      intervalMs: integer(1, 86_400_000)(r.intervalMs, false),
    };
  }
  if (out.concurrency === undefined && out.rate === undefined)
    throw new Error("expected at least one of concurrency or rate");
  return out;
}

function safeJson(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new Error(`expected JSON, got ${JSON.stringify(value)}`);
  }
}

/** How many event streams the admin API keeps open at once unless configured (`admin.maxEventStreams`). */
export const DEFAULT_MAX_EVENT_STREAMS = 256;

/** Read once at startup, from the environment or the settings file; never from the DB (the DB is found through them). */
export const DATABASE_URL: SettingDefinition<string | null> = {
  name: "database.url",
  category: "bootstrap",
  class: "secret",
  env: "DATABASE_URL",
  description: "Postgres connection URL; unset = embedded (PGlite in database.dir, else the memory store)",
  default: null,
  parse: text(/^postgres(ql)?:\/\//, "a postgres:// URL"),
};

export const DATABASE_DIR: SettingDefinition<string | null> = {
  name: "database.dir",
  category: "bootstrap",
  class: "internal",
  env: "TESSERA_DATA_DIR",
  description: "PGlite data directory (memory:// = PGlite in memory); unset = the memory store (lost on exit)",
  default: null,
  parse: text(),
};

export const ADMIN_ALLOWED_HOSTS: SettingDefinition<string[] | null> = {
  name: "admin.allowedHosts",
  category: "bootstrap",
  class: "internal",
  env: "TESSERA_ADMIN_ALLOWED_HOSTS",
  description:
    "Host names the admin API answers to besides localhost and IP addresses (others are refused: DNS rebinding); unset = any name when it listens beyond loopback, none when on loopback",
  default: null,
  parse: hostNames,
};

export const ADMIN_MAX_EVENT_STREAMS: SettingDefinition<number> = {
  name: "admin.maxEventStreams",
  category: "bootstrap",
  class: "internal",
  env: "TESSERA_ADMIN_MAX_EVENT_STREAMS",
  description: "Event streams (GET /api/v1/events) the admin API keeps open at once; one more is refused with 503",
  default: DEFAULT_MAX_EVENT_STREAMS,
  parse: integer(1, 100_000),
};

/** Where this deployment runs; production refuses what would lose jobs or open the API (@tessera/contract's environment.ts). */
export const ENVIRONMENT: SettingDefinition<TesseraEnvironment> = {
  name: "environment",
  category: "bootstrap",
  class: "public",
  env: ENVIRONMENT_VARIABLE,
  description: `The environment: ${ENVIRONMENTS.join(", ")}; production refuses to start with guard rails broken, staging warns`,
  default: DEFAULT_ENVIRONMENT,
  parse: (value) => {
    if (typeof value !== "string")
      throw new Error(`expected one of ${ENVIRONMENTS.join(", ")}, got ${JSON.stringify(value)}`);
    return parseEnvironment(value);
  },
};

/** Bootstrap: what the coordinator may reach is decided where it is deployed, never through the admin API. */
export const FETCH_ALLOW: SettingDefinition<EgressAllowlist> = {
  name: "fetch.allow",
  category: "bootstrap",
  class: "internal",
  env: "TESSERA_FETCH_ALLOW",
  description:
    'Where the coordinator may fetch source_locator inputs from, in the Component spec\'s allowlist shape (JSON: cidrs, openInternet, ports); default {"openInternet": true}, the public internet only',
  default: { openInternet: true },
  parse: parseFetchAllow,
};

export const FETCH_SECRETS: SettingDefinition<string> = {
  name: "fetch.secrets",
  category: "bootstrap",
  class: "secret",
  env: "TESSERA_FETCH_SECRETS",
  description:
    'Secrets a source_locator may name in source_secret_ref (JSON {"<name>": {"authorization": "<header value>", "origins": ["https://host"]}}); sent as the Authorization header, only to those origins',
  default: null,
  parse: parseSourceSecrets,
};

export const BOOTSTRAP_SETTINGS: readonly SettingDefinition[] = [
  ENVIRONMENT,
  DATABASE_URL,
  DATABASE_DIR,
  {
    name: "nats.url",
    category: "bootstrap",
    class: "secret",
    env: "NATS_URL",
    description: "NATS server URL; unset = the in-process bus",
    default: null,
    parse: text(),
  },
  {
    name: "admin.host",
    category: "bootstrap",
    class: "internal",
    env: "TESSERA_ADMIN_HOST",
    description: "Address the admin API listens on",
    default: "127.0.0.1",
    parse: text(),
  },
  {
    name: "admin.port",
    category: "bootstrap",
    class: "internal",
    env: "TESSERA_ADMIN_PORT",
    description: "Port of the admin API (0 = any free port)",
    default: 7400,
    parse: integer(0, 65_535),
  },
  ADMIN_ALLOWED_HOSTS,
  ADMIN_MAX_EVENT_STREAMS,
  FETCH_ALLOW,
  FETCH_SECRETS,
  {
    name: "admin.token",
    category: "bootstrap",
    class: "secret",
    env: "TESSERA_ADMIN_TOKEN",
    description:
      "Bearer token the admin API requires for changes (cancel, redrive, submit, settings); unset = changes only when it listens on loopback",
    default: null,
    parse: adminToken,
  },
];

/** Kept in the DB and changeable at run time through the admin API; only the coordinator reads them. */
export const RELAY_BATCH_SIZE: SettingDefinition<number> = {
  name: "relay.batchSize",
  category: "operational",
  class: "internal",
  env: "TESSERA_RELAY_BATCH_SIZE",
  description: "Jobs the outbox relay publishes per round",
  default: 256,
  parse: integer(1, 10_000),
};

export const RELAY_POLL_INTERVAL_MS: SettingDefinition<number> = {
  name: "relay.pollIntervalMs",
  category: "operational",
  class: "internal",
  env: "TESSERA_RELAY_POLL_INTERVAL_MS",
  description: "How often the relay looks for jobs held back or left by a restart",
  default: 500,
  parse: integer(10, 60_000),
};

export const FETCH_CONCURRENCY: SettingDefinition<number> = {
  name: "fetch.concurrency",
  category: "operational",
  class: "internal",
  env: "TESSERA_FETCH_CONCURRENCY",
  description:
    "source_locator inputs this coordinator fetches at once (each holds a connection to its source and an upload to the payload store)",
  default: 8,
  parse: integer(1, 1_000),
};

/** The gateway's public base URL, so the control plane can show each account's full webhook URL (decision 0042). */
export const GATEWAY_PUBLIC_URL: SettingDefinition<string | null> = {
  name: "gateway.publicUrl",
  category: "operational",
  class: "public",
  env: "TESSERA_GATEWAY_PUBLIC_URL",
  description:
    "Where platforms reach the gateway (https://hooks.example.com): each account's webhook URL is this plus its path; unset = paths only",
  default: null,
  parse: (value) => {
    if (value === null || value === "") return null;
    if (typeof value !== "string" || !/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(value))
      throw new Error(`expected an http(s) URL without query or fragment, got ${JSON.stringify(value)}`);
    return value.replace(/\/$/, "");
  },
};

export const OPERATIONAL_SETTINGS: readonly SettingDefinition[] = [
  RELAY_BATCH_SIZE,
  RELAY_POLL_INTERVAL_MS,
  FETCH_CONCURRENCY,
  GATEWAY_PUBLIC_URL,
];

/** What `jobs.retention` takes besides a duration: decided jobs are never deleted by age. */
export const KEEP_FOREVER = "forever";
/** Ten years: past that, "forever" says it better, and a cutoff stays a timestamp Postgres takes. */
const MAX_RETENTION_MS = 87_600 * 3_600_000;
const RETENTION_EXPECTED = `"${KEEP_FOREVER}" or a duration greater than zero and at most 87600h, written like "30m", "1h" or "168h" (units ms, s, m, h)`;

function retention(value: unknown): string {
  if (value === KEEP_FOREVER) return value;
  if (typeof value !== "string" || !new RegExp(DURATION_PATTERN).test(value))
    throw new Error(`expected ${RETENTION_EXPECTED}, got ${JSON.stringify(value)}`);
  const ms = parseDuration(value);
  if (ms <= 0 || ms > MAX_RETENTION_MS) throw new Error(`expected ${RETENTION_EXPECTED}, got ${JSON.stringify(value)}`);
  return value;
}

/** `jobs.retention`, to read (its definition, with the store's default, is made by jobRetentionSetting). */
export const JOBS_RETENTION: SettingKey<string> = { name: "jobs.retention" };

/** `limits.<component>`, to read (its definition, with the project's default, is made by limitsSetting). */
export function limitsOf(component: string): SettingKey<KeyLimits | null> {
  return { name: `limits.${component}` };
}

/** A checked `jobs.retention` value in ms, or null for "forever". */
export function retentionMs(value: string): number | null {
  return value === KEEP_FOREVER ? null : parseDuration(value);
}

/**
 * How long a decided job is kept after its decision was recorded, an operational setting whose default
 * depends on the store (decision 0017): "1h" in memory, where every job held is the process's memory, and
 * "forever" on SQL, which kept every job before the setting existed.
 */
export function jobRetentionSetting(fallback: string): SettingDefinition<string> {
  return {
    name: JOBS_RETENTION.name,
    category: "operational",
    class: "internal",
    env: "TESSERA_JOBS_RETENTION",
    description: `How long a completed, failed or cancelled job is kept after it was decided ("${KEEP_FOREVER}" = never deleted; a failed job in the DLQ is kept until redriven)`,
    default: fallback,
    parse: retention,
  };
}

/** Per-key limits of one component, an operational setting whose default comes from the project. */
export function limitsSetting(component: string, fallback: KeyLimits | undefined): SettingDefinition<KeyLimits | null> {
  return {
    name: limitsOf(component).name,
    category: "operational",
    class: "internal",
    env: envNameOf("TESSERA_LIMITS_", component),
    description: `Per-key concurrency and rate limits of ${component}, enforced at dispatch (null = none)`,
    default: fallback ?? null,
    parse: keyLimits,
  };
}

/**
 * A shared setting: stamped into every job envelope as `shared_config[name]`. Never a secret: a job's
 * envelope is on the bus, in the store and in the admin API's job view (a secret goes in a secretRef).
 */
export function sharedSetting(name: string, fallback: unknown, cls: ConfigClass = "internal"): SettingDefinition {
  if (cls === "secret")
    throw new Error(
      `shared setting ${name}: a secret cannot be shared config, which is stamped into every job envelope; give the component a secretRef instead`,
    );
  return {
    name,
    category: "shared",
    class: cls,
    env: envNameOf("TESSERA_SHARED_", name),
    description: "Shared config, stamped into every job",
    default: fallback,
    parse: anyJson,
  };
}
