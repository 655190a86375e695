import { redactedValue, scrubSecrets } from "@tessera/contract";
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
  /** Every setting with its real value; what leaves this class goes through `shown` (secrets redacted). */
  private readonly resolved = new Map<string, ResolvedSetting>();
  private readonly db = new Map<string, unknown>();

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

  /** Every setting as it may be shown: a secret's value is "(set)" or null. */
  list(): ResolvedSetting[] {
    return [...this.resolved.values()].map(shown);
  }

  get(name: string): ResolvedSetting | undefined {
    const setting = this.resolved.get(name);
    return setting === undefined ? undefined : shown(setting);
  }

  secret(name: string): string | undefined {
    const setting = this.resolved.get(name);
    return setting?.class === "secret" && typeof setting.value === "string" ? setting.value : undefined;
  }

  /** Text with every secret setting's value scrubbed out: for messages built before anyone knew what they held. */
  scrub(text: string): string {
    return scrubSecrets(text, this.secretValues());
  }

  /** Each secret's value, and each string inside one that is JSON (fetch.secrets' header values). */
  private secretValues(): string[] {
    return [...this.resolved.values()]
      .filter((s) => s.class === "secret" && typeof s.value === "string")
      .flatMap((s) => [s.value as string, ...stringsIn(s.value as string)]);
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
      const message = this.scrub((err as Error).message);
      throw new CoordinatorError("invalid_request", `${name}: ${message}`, [
        {
          path: "value",
          expected: message.replace(/^expected /, ""),
          received: this.scrub(JSON.stringify(redactedValue(def.class, value)) ?? "nothing"),
        },
      ]);
    }
    await this.writeDb(name, parsed);
    this.db.set(name, parsed);
    const resolved = this.resolve(def);
    this.resolved.set(name, resolved);
    return shown(resolved);
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
        problems.push(this.scrub((err as Error).message));
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
        // The raw value may be this very secret (or another one): the message never repeats it.
        const secrets = [...this.secretValues(), ...(def.class === "secret" && typeof raw === "string" ? [raw] : [])];
        throw new CoordinatorError(
          "invalid_request",
          scrubSecrets(`setting ${def.name} from ${where}: ${(err as Error).message}`, secrets),
        );
      }
    }
    return {
      name: def.name,
      category: def.category,
      class: def.class,
      value,
      source,
      description: def.description,
      env: def.env,
    };
  }
}

/** The strings of at least 8 characters inside `text` when it is JSON (none when it is not). */
function stringsIn(text: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    return [];
  }
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === "string") {
      if (v.length >= 8) out.push(v);
    } else if (typeof v === "object" && v !== null) Object.values(v).forEach(walk);
  };
  walk(value);
  return out;
}

/** A setting as every output shows it: the one redaction rule (`redactedValue`) applied to its value. */
function shown(setting: ResolvedSetting): ResolvedSetting {
  return setting.class === "secret" ? { ...setting, value: redactedValue(setting.class, setting.value) } : setting;
}
