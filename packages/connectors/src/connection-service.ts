import type { Egress } from "@tessera/egress";
import { takePendingAuthorization } from "./authorization.js";
import { OAuthConnector, type ConnectorOptions, type RevokeOutcome } from "./connector.js";
import { toStoredCredential } from "./credential-view.js";
import { ConnectorError, ConnectorErrorCode } from "./errors.js";
import type { ProviderDefinition } from "./provider.js";
import type { OAuthClientConfig, StoredCredential } from "./schemas.js";
import type { ConnectionFilter, ConnectionStore } from "./store/connection-store.js";
import { rotateVaultKey, type RotationOptions, type RotationReport } from "./vault/rotate-key.js";
import type { Vault } from "./vault/vault.js";

/** One configured provider: its definition and this platform's client registration with it. */
export interface ProviderRegistration {
  provider: ProviderDefinition;
  client: OAuthClientConfig;
}

/** What every connector of a service shares; the per-provider parts come from `ProviderRegistration`. */
export type SharedConnectorOptions = Omit<ConnectorOptions, "provider" | "client" | "store" | "vault" | "egress">;

export interface ConnectionServiceOptions extends SharedConnectorOptions {
  providers: readonly ProviderRegistration[];
  store: ConnectionStore;
  vault: Vault;
  egress: Egress;
}

export interface VaultStatus {
  currentKeyId: string;
  keyIds: string[];
  /** Sealed boxes per key id: a rotation is complete when only the current key has any. */
  boxesByKey: Record<string, number>;
}

/**
 * The coordinator's connections: every configured provider's connector over one store and vault. What the
 * admin API and CLI for connections call (list, begin, the OAuth callback, disconnect), each a thin layer:
 * answers never hold a token, and errors are `ConnectorError`s with stable codes.
 */
export class ConnectionService {
  private readonly connectors = new Map<string, OAuthConnector>();

  constructor(private readonly o: ConnectionServiceOptions) {
    const { providers, ...shared } = o;
    for (const registration of providers) {
      const connector = new OAuthConnector({ ...shared, ...registration });
      if (this.connectors.has(connector.provider))
        throw new ConnectorError(
          ConnectorErrorCode.ProviderError,
          `provider ${connector.provider} is configured twice`,
        );
      this.connectors.set(connector.provider, connector);
    }
  }

  providers(): string[] {
    return [...this.connectors.keys()].sort();
  }

  connector(provider: string): OAuthConnector {
    const found = this.connectors.get(provider);
    if (found === undefined)
      throw new ConnectorError(ConnectorErrorCode.UnknownProvider, `no connector is configured for ${provider}`, {
        provider,
      });
    return found;
  }

  async list(filter: ConnectionFilter = {}): Promise<StoredCredential[]> {
    return (await this.o.store.list(filter)).map(toStoredCredential);
  }

  get(provider: string, userId: string): Promise<StoredCredential | undefined> {
    return this.connector(provider).connection(userId);
  }

  begin(provider: string, userId: string): Promise<{ redirectUrl: string; state: string }> {
    return this.connector(provider).beginOAuth(userId);
  }

  /**
   * The OAuth callback, whatever the provider: its state names the pending authorization, and that names the
   * provider and user. Takes the query as the redirect carried it (code, state, and iss or error).
   */
  async finish(callback: URLSearchParams | Readonly<Record<string, string>>): Promise<StoredCredential> {
    const params = callback instanceof URLSearchParams ? callback : new URLSearchParams(callback);
    const pending = await takePendingAuthorization(this.o.store, params, (this.o.now ?? Date.now)());
    return this.connector(pending.provider).complete(pending, params);
  }

  /** The connection's current access token (refreshed if about to expire); for the gateway's OAuth-installed accounts. */
  accessToken(provider: string, userId: string): Promise<string> {
    return this.connector(provider).accessToken(userId);
  }

  disconnect(provider: string, userId: string): Promise<RevokeOutcome> {
    return this.connector(provider).revoke(userId);
  }

  /** Forgets authorizations started and never finished; call it now and then (a maintenance lease). */
  pruneExpiredAuthorizations(): Promise<number> {
    return this.o.store.prunePending((this.o.now ?? Date.now)());
  }

  rotateKey(options?: RotationOptions): Promise<RotationReport> {
    return rotateVaultKey(this.o.store, this.o.vault, options);
  }

  async vaultStatus(): Promise<VaultStatus> {
    return {
      currentKeyId: this.o.vault.currentKeyId(),
      keyIds: this.o.vault.keyIds(),
      boxesByKey: await this.o.store.countByKey(),
    };
  }
}

export function createConnectionService(options: ConnectionServiceOptions): ConnectionService {
  return new ConnectionService(options);
}
