import { traceLogFields, type Bus } from "@tessera/bus";
import {
  busSettingsFromSpec,
  componentNameProblem,
  enforceGuardRails,
  validateComponentSpec,
  CONFIG_CLASSES,
  type ConfigClass,
  type DeploymentFacts,
} from "@tessera/contract";
import type { Vault } from "@tessera/connectors/storage";
import { pino, type Logger } from "pino";
import type { CoordinatorConnectorsOptions, OpenedConnections } from "./connections/open-connections.js";
import { CoordinatorRuntime } from "./coordinator.js";
import { GatewayControl, type GatewayFeed } from "./gateway/gateway-control.js";
import { CoordinatorError } from "./errors.js";
import {
  BOOTSTRAP_SETTINGS,
  DATABASE_DIR,
  DATABASE_URL,
  ENVIRONMENT,
  GATEWAY_PUBLIC_URL,
  KEEP_FOREVER,
  OPERATIONAL_SETTINGS,
  jobRetentionSetting,
  limitsSetting,
  sharedSetting,
  type SettingDefinition,
} from "./settings/setting-definitions.js";
import { Settings } from "./settings/settings.js";
import { openStorage, type DatabaseOption, type OpenedStorage } from "./store/open-storage.js";
import { type ChainHook, type ComponentRegistration, type Coordinator } from "./types.js";

/** `jobs.retention`'s default on the memory store (decision 0017). */
const MEMORY_RETENTION = "1h";

export interface CoordinatorOptions {
  bus: Bus;
  components: readonly ComponentRegistration[];
  /**
   * Where jobs are stored. Default: the `database.url` / `database.dir` settings (DATABASE_URL: Postgres,
   * TESSERA_DATA_DIR: PGlite in that directory), else the memory store, which keeps nothing across a
   * restart. `{ url }` or `{ dataDir }` choose here (`dataDir: "memory://"` is PGlite in memory); `{ client }`
   * shares an open SQL client (it is not closed); `{ memory: true }` asks for the memory store whatever the
   * settings say, and `{ memory: createMemoryDatabase() }` shares one between coordinators of this process.
   */
  database?: DatabaseOption;
  /** Shared config defaults (stamped into every job), overridable by env, the settings file and the DB. */
  sharedConfig?: Record<string, unknown>;
  /**
   * The class of each shared setting (default internal). Never secret: shared config is stamped into every
   * job; local-only ones are refused outside local when they have a value (docs/contract.md#config-classes).
   */
  sharedConfigClasses?: Readonly<Record<string, ConfigClass>>;
  /** Values from the settings file, by setting name. */
  settingsFile?: Record<string, unknown>;
  /** Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Per component: runs when one of its jobs completes (chaining). */
  onCompleted?: Readonly<Record<string, ChainHook>>;
  /**
   * Where the components' workers run: in this process, on this bus (`tessera dev`, a monolith embedding its
   * workers), or elsewhere (worker processes, Kubernetes). Default: elsewhere. Only the guard rails read it:
   * in production the in-process bus is refused unless the workers are said to run here (decision 0029).
   */
  workers?: "in-process" | "elsewhere";
  /** Create or update each component's stream and consumer on the bus (default true; false in Kubernetes, where the controller does). */
  provision?: boolean;
  heartbeatIntervalMs?: number;
  logger?: Logger;
  /** Providers users may connect to; needs a vault key (TESSERA_VAULT_KEY_FILE or TESSERA_VAULT_KEYS). */
  connectors?: CoordinatorConnectorsOptions;
  /**
   * The gateway's control plane (decision 0042): where its inbound messages and streams' figures come from
   * (`natsGatewayFeed` or `tessera dev`'s in-process stand-in, from @tessera/gateway). Accounts are served
   * without it; the tail and stream health need it.
   */
  gateway?: { feed?: GatewayFeed };
}

/**
 * Opens the store (migrating it), checks the components, provisions the bus and starts the coordinator.
 *
 * ```ts
 * const bus = createInProcessBus();
 * const coordinator = await createCoordinator({ bus, components: [{ name: "extract", spec }] });
 * const { jobId } = await coordinator.submit("extract", { text: "hello" });
 * const job = await coordinator.waitForJob(jobId);
 * ```
 */
export async function createCoordinator(opts: CoordinatorOptions): Promise<Coordinator> {
  const env = opts.env ?? process.env;
  const log =
    opts.logger ?? pino({ name: "tessera-coordinator", level: env.LOG_LEVEL ?? "info", mixin: traceLogFields });
  const components = checkRegistrations(opts.components);
  const file = opts.settingsFile ?? {};
  // Bootstrap settings decide which database to open, so they are resolved before it is.
  const bootstrap = new Settings(
    BOOTSTRAP_SETTINGS,
    {
      env,
      file: pick(
        file,
        BOOTSTRAP_SETTINGS.map((d) => d.name),
      ),
      db: new Map(),
    },
    () => Promise.reject(new Error("bootstrap settings are not stored")),
  );
  const environment = bootstrap.read(ENVIRONMENT);
  const storage = await openStorage(
    opts.database,
    { url: bootstrap.read(DATABASE_URL), dir: bootstrap.read(DATABASE_DIR) },
    log,
  );
  try {
    enforceGuardRails(
      environment,
      {
        store: { kind: storeKind(storage) },
        bus: { kind: opts.bus.kind, workers: opts.workers ?? "elsewhere", ...opts.bus.topology() },
      },
      (finding) => log.warn({ environment, rule: finding.rule }, finding.message),
    );
  } catch (err) {
    await storage.release().catch(() => undefined);
    throw err;
  }
  const definitions = [
    ...BOOTSTRAP_SETTINGS,
    ...OPERATIONAL_SETTINGS,
    // In memory every decided job held is the process's memory; SQL kept every job before retention existed.
    jobRetentionSetting(storage.kind === "memory" ? MEMORY_RETENTION : KEEP_FOREVER),
    ...components.map((c) => limitsSetting(c.name, c.limits)),
    ...sharedDefinitions(opts.sharedConfig ?? {}, opts.sharedConfigClasses ?? {}),
  ];
  let connections: OpenedConnections | undefined;
  try {
    if (opts.connectors !== undefined) {
      // Loaded only when configured: the OAuth client and the egress guard are not every coordinator's cost.
      const { openConnections } = await import("./connections/open-connections.js");
      connections = await openConnections(opts.connectors, storage.connections, env, log);
    }
    const vault = await gatewayVault(opts, env);
    const settings = new Settings(
      definitions,
      { env, file, db: await storage.settings.readSettings() },
      (name, value) => storage.settings.writeSetting(name, value),
    );
    enforceGuardRails(
      environment,
      {
        settings: settings
          .list()
          .filter((s) => s.value !== null && s.value !== undefined)
          .map((s) => ({ name: s.name, class: s.class, source: s.source })),
        components,
      },
      (finding) => log.warn({ environment, rule: finding.rule }, finding.message),
    );
    if (opts.provision !== false) {
      for (const c of components) await opts.bus.ensureComponent(busSettingsFromSpec(c.name, c.spec));
    }
    const coordinator = new CoordinatorRuntime({
      id: storage.id,
      bus: opts.bus,
      store: storage.jobs,
      settingsStore: storage.settings,
      evictedJobs: () => storage.evictedJobs(),
      ...(storage.sql !== undefined ? { sql: storage.sql } : {}),
      settings,
      audit: storage.audit,
      components,
      onCompleted: checkHooks(opts.onCompleted ?? {}, components),
      log,
      ...(opts.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: opts.heartbeatIntervalMs } : {}),
      ...(connections !== undefined ? { connections: connections.service } : {}),
      gateway: new GatewayControl({
        store: storage.gatewayAccounts,
        ...(vault !== undefined ? { vault } : {}),
        ...(connections !== undefined ? { connections: connections.service } : {}),
        ...(opts.gateway?.feed !== undefined ? { feed: opts.gateway.feed } : {}),
        publicUrl: () => settings.read(GATEWAY_PUBLIC_URL),
      }),
      release: async () => {
        await connections?.close();
        await storage.release();
      },
    });
    await coordinator.start();
    return coordinator;
  } catch (err) {
    await connections?.close().catch(() => undefined);
    await storage.release().catch(() => undefined);
    throw err;
  }
}

function checkRegistrations(components: readonly ComponentRegistration[]): ComponentRegistration[] {
  const seen = new Set<string>();
  return components.map((c, i) => {
    const nameProblem = componentNameProblem(c.name);
    if (nameProblem !== undefined)
      throw new CoordinatorError(
        "invalid_request",
        `components[${i}].name: ${nameProblem}, got ${JSON.stringify(c.name)}`,
      );
    if (seen.has(c.name))
      throw new CoordinatorError("invalid_request", `components[${i}].name: "${c.name}" is registered twice`);
    seen.add(c.name);
    const checked = validateComponentSpec(c.spec);
    if (!checked.ok)
      throw new CoordinatorError(
        "invalid_request",
        `component ${c.name}: ${checked.error.message}`,
        checked.error.issues,
      );
    return { ...c, spec: checked.value };
  });
}

function sharedDefinitions(
  values: Readonly<Record<string, unknown>>,
  classes: Readonly<Record<string, ConfigClass>>,
): SettingDefinition[] {
  for (const [name, cls] of Object.entries(classes)) {
    if (!Object.hasOwn(values, name))
      throw new CoordinatorError("invalid_request", `sharedConfigClasses.${name}: no shared setting named "${name}"`);
    if (!CONFIG_CLASSES.includes(cls))
      throw new CoordinatorError(
        "invalid_request",
        `sharedConfigClasses.${name}: expected one of ${CONFIG_CLASSES.join(", ")}, got ${JSON.stringify(cls)}`,
      );
  }
  try {
    return Object.entries(values).map(([name, value]) => sharedSetting(name, value, classes[name]));
  } catch (err) {
    throw new CoordinatorError("invalid_request", (err as Error).message);
  }
}

function checkHooks(
  hooks: Readonly<Record<string, ChainHook>>,
  components: readonly ComponentRegistration[],
): Readonly<Record<string, ChainHook>> {
  for (const name of Object.keys(hooks)) {
    if (!components.some((c) => c.name === name))
      throw new CoordinatorError("invalid_request", `onCompleted.${name}: no component named "${name}" is registered`);
  }
  return hooks;
}

function storeKind(storage: OpenedStorage): NonNullable<DeploymentFacts["store"]>["kind"] {
  if (storage.kind === "memory") return "memory";
  if (storage.sql?.dialect === "postgres") return "postgres";
  return storage.sql?.inMemory === true ? "embedded-memory" : "embedded-disk";
}

function pick(values: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([k]) => names.includes(k)));
}

/** Gateway accounts' credentials are sealed by the vault the connectors use, when a key is configured. */
async function gatewayVault(
  opts: CoordinatorOptions,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Vault | undefined> {
  const { keyringSourceFromEnv, Vault: VaultClass } = await import("@tessera/connectors/storage");
  const keys = opts.connectors?.keys ?? keyringSourceFromEnv(env);
  return keys === undefined ? undefined : VaultClass.create(keys);
}
