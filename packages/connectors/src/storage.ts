/**
 * `@tessera/connectors/storage`: the vault and the connection store, without the HTTP side (no egress guard,
 * no OAuth client). What the coordinator's store layer and `tessera vault` import, so that loading them costs
 * nothing a coordinator without connectors does not use.
 *
 * ```ts
 * import { Vault, keyringSourceFromEnv, rotateVaultKey } from "@tessera/connectors/storage";
 * const vault = await Vault.create(keyringSourceFromEnv(process.env)!);
 * await rotateVaultKey(store, vault); // every box under the key file's first key
 * ```
 */
export { ConnectorError, ConnectorErrorCode } from "./errors.js";
export type {
  ConnectionFilter,
  ConnectionKey,
  ConnectionStore,
  LockedConnection,
  SealedEntry,
} from "./store/connection-store.js";
export { MemoryConnectionStore } from "./store/memory-connection-store.js";
export {
  Keyring,
  parseKeyring,
  keyFileSource,
  keyringSourceFromEnv,
  staticKeyring,
  VAULT_ENV,
  VAULT_KEY_BYTES,
  type KeyringSource,
} from "./vault/keyring.js";
export { Vault, generateKeyEntry, type SealContext } from "./vault/vault.js";
export {
  GatewaySecretsSchema,
  gatewaySecretsContext,
  openGatewaySecrets,
  sealGatewaySecrets,
  type GatewaySecrets,
} from "./vault/gateway-secrets.js";
export {
  rotateSealedBoxes,
  rotateVaultKey,
  type RotationOptions,
  type RotationReport,
  type SealedBoxSource,
} from "./vault/rotate-key.js";
export type { ConnectionRecord, ConnectionState, ConnectionWrite, PendingAuthorization, SealedBox } from "./schemas.js";
