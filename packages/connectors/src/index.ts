/**
 * Connectors to users' accounts at third-party providers: OAuth 2.0 authorization code with PKCE, tokens
 * kept only sealed by the vault, refreshed with one call in flight per connection across coordinator replicas,
 * and every request out through the egress guard.
 *
 * ```ts
 * import { createEgress } from "@tessera/egress";
 * import { Vault, keyringSourceFromEnv, createConnector, todoistProvider, MemoryConnectionStore } from "@tessera/connectors";
 *
 * const vault = await Vault.create(keyringSourceFromEnv(process.env)!); // TESSERA_VAULT_KEY_FILE or TESSERA_VAULT_KEYS
 * const todoist = createConnector({
 *   provider: todoistProvider(),
 *   client: { clientId, clientSecret, redirectUri: "https://tessera.example/oauth/callback" },
 *   store: new MemoryConnectionStore(), // the coordinator passes its own store
 *   vault,
 *   egress: createEgress(),
 * });
 * const { redirectUrl } = await todoist.beginOAuth("user-1"); // send the user there
 * await todoist.finishOAuth(code, state); // from the callback
 * for await (const event of todoist.fetchSignals("user-1")) console.log(event.kind, event.sourceId);
 * await todoist.act("user-1", { kind: "complete_task", target: "123" });
 * await todoist.revoke("user-1");
 * ```
 *
 * docs/connectors.md describes the flow and the scenarios; docs/decisions/0027-connectors-and-vault.md why.
 */
export {
  createConnector,
  OAuthConnector,
  CONNECTOR_DEFAULTS,
  type Connector,
  type ConnectorOptions,
  type RevokeOutcome,
} from "./connector.js";
export {
  createConnectionService,
  ConnectionService,
  type ConnectionServiceOptions,
  type ProviderRegistration,
  type SharedConnectorOptions,
  type VaultStatus,
} from "./connection-service.js";
export type { ApiContext, ProviderApi, ProviderDefinition, RevokeContext, SignalPage } from "./provider.js";
export { todoistProvider, TODOIST_ENDPOINTS, type TodoistOptions } from "./providers/todoist.js";
export { BreakerState, BREAKER_DEFAULTS, type BreakerOptions } from "./http/circuit-breaker.js";
export { RETRY_DEFAULTS, type RetryOptions } from "./http/provider-http.js";
export type { ConnectorLogger } from "./logger.js";
export {
  ActionResultSchema,
  ConnectionRecordSchema,
  ConnectionStateSchema,
  ConnectionWriteSchema,
  ConnectorActionSchema,
  NormalizedEventSchema,
  OAuthClientConfigSchema,
  PendingAuthorizationSchema,
  ProviderConfigSchema,
  SealedBoxSchema,
  StoredCredentialSchema,
  type ActionResult,
  type ConnectorAction,
  type NormalizedEvent,
  type OAuthClientConfig,
  type ProviderConfig,
  type StoredCredential,
} from "./schemas.js";
// The vault and the store, also their own entry (`@tessera/connectors/storage`): listed once, there.
export * from "./storage.js";
export { toStoredCredential } from "./credential-view.js";
