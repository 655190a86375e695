/**
 * The envelope schema versions this build reads and writes. A change to any envelope shape is a new
 * version with a dual-read period (docs/contract.md), never an edit of an existing one.
 */
export const SCHEMA_VERSION = 1 as const;
export const SUPPORTED_SCHEMA_VERSIONS: readonly number[] = [SCHEMA_VERSION];

export function isSupportedSchemaVersion(v: unknown): boolean {
  return typeof v === "number" && SUPPORTED_SCHEMA_VERSIONS.includes(v);
}
