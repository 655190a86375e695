import { ConstraintViolationError, storableJson, storableText } from "../store/storable-values.js";
import type { SettingsStore } from "./settings-store.js";

/**
 * Settings in this process's memory, beside the memory job store: SqlSettingsStore's behaviour, each value
 * held as its JSON text (a jsonb column in SQL), so that nothing handed out is shared.
 */
export class MemorySettingsStore implements SettingsStore {
  private readonly settings = new Map<string, string>();

  async readSettings(): Promise<Map<string, unknown>> {
    return new Map([...this.settings].map(([name, json]) => [name, JSON.parse(json) as unknown]));
  }

  async writeSetting(name: string, value: unknown): Promise<void> {
    const json = JSON.stringify(value) as string | undefined;
    if (json === undefined)
      throw new ConstraintViolationError(
        "23502",
        'null value in column "value" of relation "tessera_settings" violates not-null constraint',
      );
    this.settings.set(storableText(name), storableJson(json));
  }
}
