import type { Bus } from "@tessera/bus";
import { busSettingsFromSpec, componentNameProblem, validateComponentSpec } from "@tessera/contract";
import { pino, type Logger } from "pino";
import { AUDIT_MIGRATIONS } from "./audit/audit-migrations.js";
import { SqlAuditLog } from "./audit/audit-store.js";
import { CoordinatorRuntime } from "./coordinator.js";
import { CoordinatorError } from "./errors.js";
import { BOOTSTRAP_SETTINGS, OPERATIONAL_SETTINGS, limitsSetting, sharedSetting } from "./settings/setting-definitions.js";
import { Settings } from "./settings/settings.js";
import { migrate } from "./sql/migrate.js";
import { openSqlClient } from "./sql/open-sql-client.js";
import type { SqlClient } from "./sql/sql-client.js";
import { JobStore } from "./store/job-store.js";
import { MIGRATIONS } from "./store/migrations.js";
import { MATURITY_LEVELS, type ChainHook, type ComponentRegistration, type Coordinator } from "./types.js";

export interface CoordinatorOptions {
  bus: Bus;
  components: readonly ComponentRegistration[];
  /**
   * Where jobs are stored. Default: the `database.url` / `database.dir` settings (DATABASE_URL,
   * TESSERA_DATA_DIR), else PGlite in memory. Pass `client` to share an open client (it is not closed).
   */
  database?: { url?: string; dataDir?: string } | { client: SqlClient };
  /** Shared config defaults (stamped into every job), overridable by env, the settings file and the DB. */
  sharedConfig?: Record<string, unknown>;
  /** Values from the settings file, by setting name. */
  settingsFile?: Record<string, unknown>;
  /** Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Per component: runs when one of its jobs completes (chaining). */
  onCompleted?: Readonly<Record<string, ChainHook>>;
  /** Create or update each component's stream and consumer on the bus (default true; false in Kubernetes, where the controller does). */
  provision?: boolean;
  heartbeatIntervalMs?: number;
  logger?: Logger;
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
  const log = opts.logger ?? pino({ name: "tessera-coordinator", level: env.LOG_LEVEL ?? "info" });
  const components = checkRegistrations(opts.components);
  const file = opts.settingsFile ?? {};
  const definitions = [
    ...BOOTSTRAP_SETTINGS,
    ...OPERATIONAL_SETTINGS,
    ...components.map((c) => limitsSetting(c.name, c.limits)),
    ...Object.entries(opts.sharedConfig ?? {}).map(([name, value]) => sharedSetting(name, value)),
  ];
  // Bootstrap settings decide which database to open, so they are resolved before it is.
  const bootstrap = new Settings(BOOTSTRAP_SETTINGS, { env, file: pick(file, BOOTSTRAP_SETTINGS.map((d) => d.name)), db: new Map() }, () => Promise.reject(new Error("bootstrap settings are not stored")));
  const owned = opts.database === undefined || !("client" in opts.database);
  const sql =
    opts.database !== undefined && "client" in opts.database
      ? opts.database.client
      : await openSqlClient({
          databaseUrl: opts.database?.url ?? bootstrap.value<string | null>("database.url") ?? undefined,
          dataDir: opts.database?.dataDir ?? bootstrap.value<string | null>("database.dir") ?? undefined,
        });
  try {
    await migrate(sql, [...MIGRATIONS, ...AUDIT_MIGRATIONS]);
    const store = new JobStore(sql, { onMaintenanceError: (err) => log.warn({ err }, "vacuuming or checkpointing the embedded database failed; the next pass will try again") });
    const settings = new Settings(definitions, { env, file, db: await store.readSettings() }, (name, value) => store.writeSetting(name, value));
    if (opts.provision !== false) {
      for (const c of components) await opts.bus.ensureComponent(busSettingsFromSpec(c.name, c.spec));
    }
    const coordinator = new CoordinatorRuntime({
      bus: opts.bus,
      store,
      settings,
      audit: new SqlAuditLog(sql),
      components,
      onCompleted: checkHooks(opts.onCompleted ?? {}, components),
      log,
      ...(opts.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: opts.heartbeatIntervalMs } : {}),
      release: () => (owned ? sql.close() : Promise.resolve()),
    });
    await coordinator.start();
    return coordinator;
  } catch (err) {
    if (owned) await sql.close().catch(() => undefined);
    throw err;
  }
}

function checkRegistrations(components: readonly ComponentRegistration[]): ComponentRegistration[] {
  const seen = new Set<string>();
  return components.map((c, i) => {
    const nameProblem = componentNameProblem(c.name);
    if (nameProblem !== undefined) throw new CoordinatorError("invalid_request", `components[${i}].name: ${nameProblem}, got ${JSON.stringify(c.name)}`);
    if (seen.has(c.name)) throw new CoordinatorError("invalid_request", `components[${i}].name: "${c.name}" is registered twice`);
    seen.add(c.name);
    if (c.maturity !== undefined && !MATURITY_LEVELS.includes(c.maturity)) {
      throw new CoordinatorError("invalid_request", `components[${i}].maturity: expected one of ${MATURITY_LEVELS.join(", ")}, got ${JSON.stringify(c.maturity)}`);
    }
    const checked = validateComponentSpec(c.spec);
    if (!checked.ok) throw new CoordinatorError("invalid_request", `component ${c.name}: ${checked.error.message}`, checked.error.issues);
    return { ...c, spec: checked.value };
  });
}

function checkHooks(hooks: Readonly<Record<string, ChainHook>>, components: readonly ComponentRegistration[]): Readonly<Record<string, ChainHook>> {
  for (const name of Object.keys(hooks)) {
    if (!components.some((c) => c.name === name)) throw new CoordinatorError("invalid_request", `onCompleted.${name}: no component named "${name}" is registered`);
  }
  return hooks;
}

function pick(values: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([k]) => names.includes(k)));
}
