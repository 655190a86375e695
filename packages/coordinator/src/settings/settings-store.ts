/**
 * Where settings changed at run time are kept (table tessera_settings in SQL), apart from the jobs as the
 * audit log is: `createCoordinator` reads them once at start, and again when another coordinator on the same
 * database announces a change.
 */
export interface SettingsStore {
  /** Every stored setting by name, its value as written. */
  readSettings(): Promise<Map<string, unknown>>;
  /** Stores a setting's value (JSON), the last write winning. */
  writeSetting(name: string, value: unknown): Promise<void>;
}
