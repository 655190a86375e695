import { CoordinatorError } from "../errors.js";
import type { ResolvedSetting, SettingKey, SettingSource, SettingsView } from "../types.js";
import type { SettingDefinition } from "./setting-definitions.js";

export interface SettingsSources {
  env: Readonly<Record<string, string | undefined>>;
  /** Values from the settings file, by setting name. */
  file: Readonly<Record<string, unknown>>;
  /** Values from the DB, by setting name. */
  db: ReadonlyMap<string, unknown>;
}

/**
 * Resolves every setting with the precedence env > file > db > default, once at startup and again for
 * a setting written through `set`. A bad value from any source is an error naming the source and the
 * setting, so a typo in the environment stops the coordinator instead of being ignored.
 */
export class Settings implements SettingsView {
  private readonly byName = new Map<string, SettingDefinition>();
  private readonly resolved = new Map<string, ResolvedSetting>();
  private readonly db = new Map<string, unknown>();
  /** Secret settings' real values; `resolved` holds them redacted. */
  private readonly secrets = new Map<string, string>();

  constructor(
    definitions: readonly SettingDefinition[],
    private readonly sources: SettingsSources,
    private readonly writeDb: (name: string, value: unknown) => Promise<void>,
  ) {
    for (const def of definitions) this.byName.set(def.name, def);
    const unknownInFile = Object.keys(sources.file).filter((name) => !this.byName.has(name));
    if (unknownInFile.length > 0) {
      throw new CoordinatorError(
        "invalid_request",
        `settings file: unknown setting ${unknownInFile.map((n) => `"${n}"`).join(", ")} (known: ${[...this.byName.keys()].join(", ")})`,
      );
    }
    for (const [name, value] of sources.db) if (this.byName.has(name)) this.db.set(name, value);
    for (const def of definitions) this.resolved.set(def.name, this.resolve(def));
  }

  list(): ResolvedSetting[] {
    return [...this.resolved.values()];
  }

  get(name: string): ResolvedSetting | undefined {
    return this.resolved.get(name);
  }

  secret(name: string): string | undefined {
    return this.secrets.get(name);
  }

  /** A setting's value, typed by its definition (what its `parse` returns). */
  read<T>(key: SettingKey<T>): T {
    const setting = this.resolved.get(key.name);
    if (setting === undefined) throw new Error(`no setting named ${key.name}`);
    // Every value in `resolved` came out of its definition's parse (or is its checked default).
    return setting.value as T;
  }

  /** The shared settings, as stamped into a job's `shared_config`. */
  shared(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const s of this.resolved.values())
      if (s.category === "shared" && s.value !== null && s.value !== undefined) out[s.name] = s.value;
    return out;
  }

  async set(name: string, value: unknown): Promise<ResolvedSetting> {
    const def = this.byName.get(name);
    if (def === undefined)
      throw new CoordinatorError("not_found", `unknown setting "${name}"`, [
        { path: "name", expected: `one of ${[...this.byName.keys()].join(", ")}`, received: JSON.stringify(name) },
      ]);
    if (def.category === "bootstrap") {
      throw new CoordinatorError(
        "invalid_request",
        `${name} is a bootstrap setting: it is read from ${def.env} or the settings file at startup, never from the DB`,
        [
          {
            path: "name",
            expected: "an operational or shared setting",
            received: `bootstrap setting ${JSON.stringify(name)}`,
          },
        ],
      );
    }
    let parsed: unknown;
    try {
      parsed = def.parse(value, false);
    } catch (err) {
      throw new CoordinatorError("invalid_request", `${name}: ${(err as Error).message}`, [
        { path: "value", expected: (err as Error).message.replace(/^expected /, ""), received: JSON.stringify(value) },
      ]);
    }
    await this.writeDb(name, parsed);
    this.db.set(name, parsed);
    const resolved = this.resolve(def);
    this.resolved.set(name, resolved);
    return resolved;
  }

  /**
   * Takes the database's values again, for `name` or for every setting ("*"): another coordinator wrote
   * them. A value that does not resolve is reported and the setting keeps its value.
   */
  reload(name: string, db: ReadonlyMap<string, unknown>): void {
    const defs = name === "*" ? [...this.byName.values()] : [this.byName.get(name)];
    const problems: string[] = [];
    for (const def of defs) {
      if (def === undefined || def.category === "bootstrap") continue;
      const before = this.db.get(def.name);
      const had = this.db.has(def.name);
      if (db.has(def.name)) this.db.set(def.name, db.get(def.name));
      else this.db.delete(def.name);
      try {
        this.resolved.set(def.name, this.resolve(def));
      } catch (err) {
        if (had) this.db.set(def.name, before);
        else this.db.delete(def.name);
        problems.push((err as Error).message);
      }
    }
    if (problems.length > 0) throw new CoordinatorError("invalid_request", problems.join("; "));
  }

  private resolve(def: SettingDefinition): ResolvedSetting {
    const envValue = this.sources.env[def.env];
    const candidates: [SettingSource, unknown, boolean][] = [];
    if (envValue !== undefined && envValue !== "") candidates.push(["env", envValue, true]);
    if (Object.hasOwn(this.sources.file, def.name)) candidates.push(["file", this.sources.file[def.name], false]);
    if (def.category !== "bootstrap" && this.db.has(def.name)) candidates.push(["db", this.db.get(def.name), false]);
    const [source, raw, fromEnv] = candidates[0] ?? ["default", def.default, false];
    let value: unknown = raw;
    // Defaults are checked too: a project's own default (its key limits, its shared config) can be wrong.
    if (source !== "default" || (raw !== null && raw !== undefined)) {
      try {
        value = def.parse(raw, fromEnv);
      } catch (err) {
        const where =
          source === "env"
            ? `environment variable ${def.env}`
            : source === "file"
              ? "the settings file"
              : source === "db"
                ? "the DB"
                : "the project's defaults";
        throw new CoordinatorError("invalid_request", `setting ${def.name} from ${where}: ${(err as Error).message}`);
      }
    }
    if (def.secret === true) {
      if (typeof value === "string") this.secrets.set(def.name, value);
      return {
        name: def.name,
        category: def.category,
        value: typeof value === "string" ? "(set)" : null,
        source,
        description: def.description,
        env: def.env,
        secret: true,
      };
    }
    return { name: def.name, category: def.category, value, source, description: def.description, env: def.env };
  }
}
