import {
  ConnectionService,
  Vault,
  VAULT_ENV,
  keyringSourceFromEnv,
  type ConnectionStore,
  type KeyringSource,
  type ProviderRegistration,
  type SharedConnectorOptions,
} from "@tessera/connectors";
import { createEgress, type Egress } from "@tessera/egress";
import type { Logger } from "pino";
import { CoordinatorError } from "../errors.js";

export interface CoordinatorConnectorsOptions extends Omit<SharedConnectorOptions, "log"> {
  providers: readonly ProviderRegistration[];
  /**
   * The vault's keys. Default: TESSERA_VAULT_KEY_FILE (a file, re-read when it changes) or TESSERA_VAULT_KEYS.
   * Never a setting: settings can live in the database the key protects, and the settings API lists them.
   */
  keys?: KeyringSource;
  /** The egress guard for provider calls. Default: one of its own, the public internet only, closed with the coordinator. */
  egress?: Egress;
}

export interface OpenedConnections {
  service: ConnectionService;
  close(): Promise<void>;
}

/** Builds the coordinator's connection service over its store; refuses to start without a vault key. */
export async function openConnections(
  options: CoordinatorConnectorsOptions,
  store: ConnectionStore,
  env: Readonly<Record<string, string | undefined>>,
  log: Logger,
): Promise<OpenedConnections> {
  const keys = options.keys ?? keyringSourceFromEnv(env);
  if (keys === undefined)
    throw new CoordinatorError(
      "invalid_request",
      `connectors need a vault key: set ${VAULT_ENV.keyFile} (a file of "<key id>:<base64 32 bytes>" lines) or ${VAULT_ENV.keys}`,
    );
  const vault = await Vault.create(keys);
  const egress = options.egress ?? createEgress();
  const { providers, keys: _keys, egress: _egress, ...shared } = options;
  const service = new ConnectionService({
    ...shared,
    providers,
    store,
    vault,
    egress,
    log: log.child({ part: "connections" }),
  });
  log.info({ providers: service.providers(), vaultKey: vault.currentKeyId() }, "connections ready");
  return { service, close: () => (options.egress === undefined ? egress.close() : Promise.resolve()) };
}
