import type { Egress } from "@tessera/egress";
import { Value } from "@sinclair/typebox/value";
import { AuthorizationFlow } from "./authorization.js";
import { toStoredCredential } from "./credential-view.js";
import { ConnectorError, ConnectorErrorCode } from "./errors.js";
import { BREAKER_DEFAULTS, CircuitBreaker, type BreakerOptions } from "./http/circuit-breaker.js";
import { ProviderHttp, type RetryOptions } from "./http/provider-http.js";
import { SILENT, type ConnectorLogger } from "./logger.js";
import { OAuthClient } from "./oauth/oauth-client.js";
import type { ApiContext, ProviderDefinition } from "./provider.js";
import {
  ConnectorActionSchema,
  OAuthClientConfigSchema,
  ProviderConfigSchema,
  TokenSetSchema,
  type ActionResult,
  type ConnectorAction,
  type NormalizedEvent,
  type OAuthClientConfig,
  type PendingAuthorization,
  type StoredCredential,
} from "./schemas.js";
import type { ConnectionStore } from "./store/connection-store.js";
import { TokenKeeper, credentialContext } from "./token-keeper.js";
import type { Vault } from "./vault/vault.js";

/** The connector contract: one per provider, every method on behalf of one platform user. */
export interface Connector {
  readonly provider: string;
  /** Starts a connection: the URL to send the user to, and the state it carries (kept, sealed, single use). */
  beginOAuth(userId: string): Promise<{ redirectUrl: string; state: string }>;
  /** Finishes it from the callback's code and state; the answer never holds a token. */
  finishOAuth(code: string, state: string): Promise<StoredCredential>;
  /**
   * The user's changes at the provider after `since` (a cursor from an earlier event); without it, after the
   * stored cursor, which advances once every event of a page has been taken.
   */
  fetchSignals(userId: string, since?: string): AsyncIterable<NormalizedEvent>;
  act?(userId: string, action: ConnectorAction): Promise<ActionResult>;
  /** Revokes the grant at the provider and wipes the local credentials (these even if the provider fails). */
  revoke(userId: string): Promise<RevokeOutcome>;
  connection(userId: string): Promise<StoredCredential | undefined>;
}

export interface RevokeOutcome {
  /** False: nothing was stored for the user. */
  existed: boolean;
  /** True when the provider confirmed the revocation; false when it has no revocation or it failed. */
  providerRevoked: boolean;
  /** Why the provider's revocation failed (an error code), when it did. */
  providerError?: string;
}

export interface ConnectorOptions {
  provider: ProviderDefinition;
  client: OAuthClientConfig;
  store: ConnectionStore;
  vault: Vault;
  /** Every request to the provider goes through it; its policy must allow the provider's hosts. */
  egress: Egress;
  breaker?: Partial<BreakerOptions>;
  retry?: Partial<RetryOptions>;
  /** See `OAuthClientOptions.allowInsecureRequests`: loopback test servers only. */
  allowInsecureRequests?: boolean;
  stateTtlMs?: number;
  refreshSkewMs?: number;
  log?: ConnectorLogger;
  now?: () => number;
  /** Tests make backoff instant. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export const CONNECTOR_DEFAULTS = { stateTtlMs: 10 * 60_000, refreshSkewMs: 60_000 } as const;

/** Checks a definition and config against their schemas, naming the first problem. */
function checked<T>(schema: Parameters<typeof Value.Check>[0], value: T, what: string): T {
  if (Value.Check(schema, value)) return value;
  const first = Value.Errors(schema, value).First();
  throw new ConnectorError(
    ConnectorErrorCode.ProviderError,
    `${what}: ${first?.path || "(root)"} ${first?.message ?? ""}`,
  );
}

/**
 * The generic OAuth 2.0 connector: one implementation, configured per provider by a `ProviderDefinition`
 * (endpoints, scopes, quirks, and the API's code). `createConnector` is its constructor.
 */
export class OAuthConnector implements Connector {
  readonly provider: string;
  readonly http: ProviderHttp;
  private readonly flow: AuthorizationFlow;
  private readonly tokens: TokenKeeper;
  private readonly oauth: OAuthClient;
  private readonly log: ConnectorLogger;

  constructor(private readonly o: ConnectorOptions) {
    const config = checked(ProviderConfigSchema, o.provider.config, "provider config");
    checked(OAuthClientConfigSchema, o.client, `${config.id} client config`);
    this.provider = config.id;
    const now = o.now ?? Date.now;
    this.log = o.log ?? SILENT;
    this.http = new ProviderHttp({
      provider: config.id,
      egress: o.egress,
      breaker: new CircuitBreaker({ ...BREAKER_DEFAULTS, ...o.breaker }, now),
      ...(o.retry !== undefined ? { retry: o.retry } : {}),
      ...(o.sleep !== undefined ? { sleep: o.sleep } : {}),
      ...(o.random !== undefined ? { random: o.random } : {}),
    });
    this.oauth = new OAuthClient(config, o.client, this.http, {
      ...(o.allowInsecureRequests !== undefined ? { allowInsecureRequests: o.allowInsecureRequests } : {}),
      now,
    });
    const common = { provider: config.id, store: o.store, vault: o.vault, oauth: this.oauth, log: this.log, now };
    this.flow = new AuthorizationFlow({
      ...common,
      requestedScopes: config.scopes,
      stateTtlMs: o.stateTtlMs ?? CONNECTOR_DEFAULTS.stateTtlMs,
    });
    this.tokens = new TokenKeeper({
      ...common,
      http: this.http,
      refreshSkewMs: o.refreshSkewMs ?? CONNECTOR_DEFAULTS.refreshSkewMs,
    });
  }

  beginOAuth(userId: string): Promise<{ redirectUrl: string; state: string }> {
    return this.flow.begin(userId);
  }

  async finishOAuth(code: string, state: string): Promise<StoredCredential> {
    return this.finishCallback(new URLSearchParams({ code, state }));
  }

  /** The whole callback query (code, state, and `iss` or `error` when the server sends them). */
  async finishCallback(callback: URLSearchParams): Promise<StoredCredential> {
    return this.complete(await this.flow.take(callback), callback);
  }

  /** For `ConnectionService`, which takes the pending authorization first to learn its provider. */
  complete(pending: PendingAuthorization, callback: URLSearchParams): Promise<StoredCredential> {
    return this.flow.complete(pending, callback);
  }

  async *fetchSignals(userId: string, since?: string): AsyncIterable<NormalizedEvent> {
    const api = this.o.provider.api;
    if (api === undefined) throw this.unsupported("fetchSignals");
    const key = { provider: this.provider, userId };
    const record = await this.o.store.get(key);
    if (record === undefined)
      throw new ConnectorError(ConnectorErrorCode.NotConnected, `${userId} has no ${this.provider} connection`);
    for await (const page of api.sync(this.context(userId), since ?? record.cursor ?? undefined)) {
      for (const event of page.events) yield { ...event, provider: this.provider, userId, cursor: page.cursor };
      // Only once the consumer has taken every event of the page: a consumer that stops early resumes there.
      await this.o.store.setCursor(key, page.cursor);
    }
  }

  async act(userId: string, action: ConnectorAction): Promise<ActionResult> {
    const act = this.o.provider.api?.act;
    if (act === undefined) throw this.unsupported("act");
    if (!Value.Check(ConnectorActionSchema, action))
      throw new ConnectorError(ConnectorErrorCode.UnsupportedAction, `${this.provider}: not an action`);
    return act(this.context(userId), action);
  }

  async revoke(userId: string): Promise<RevokeOutcome> {
    const key = { provider: this.provider, userId };
    // Under the lock: a refresh in flight finishes first, so the tokens revoked are the newest ones.
    return this.o.store.withLock(key, async (locked) => {
      const record = locked.record;
      if (record === undefined) return { existed: false, providerRevoked: false };
      let outcome: RevokeOutcome = { existed: true, providerRevoked: false };
      if (record.sealed !== null) {
        try {
          const tokens = this.o.vault.openJson(TokenSetSchema, record.sealed, credentialContext(key));
          const revokeToken = this.o.provider.api?.revokeToken;
          if (revokeToken !== undefined) {
            await revokeToken({ http: this.http, client: this.o.client }, tokens);
            outcome.providerRevoked = true;
          } else {
            // Revoking the refresh token ends the grant at most servers (RFC 7009 2.1); the access token too,
            // for servers that keep them apart.
            if (tokens.refreshToken !== undefined) await this.oauth.revoke(tokens.refreshToken, "refresh_token");
            outcome.providerRevoked = await this.oauth.revoke(tokens.accessToken, "access_token");
          }
        } catch (err) {
          // A provider that fails, or a box that does not open: the local credentials are wiped all the same.
          const code = err instanceof ConnectorError ? err.code : "revoke_failed";
          outcome = { existed: true, providerRevoked: false, providerError: code };
          this.log.warn({ provider: this.provider, userId, code }, "the provider's revocation failed; wiping locally");
        }
      }
      await locked.delete();
      this.log.info({ provider: this.provider, userId, providerRevoked: outcome.providerRevoked }, "disconnected");
      return outcome;
    });
  }

  /**
   * The user's current access token, refreshed first when it is about to expire (one refresh in flight per
   * connection, across replicas): for a holder that makes its own calls with it, such as the gateway's senders.
   */
  async accessToken(userId: string): Promise<string> {
    return (await this.tokens.current(userId)).tokens.accessToken;
  }

  async connection(userId: string): Promise<StoredCredential | undefined> {
    const record = await this.o.store.get({ provider: this.provider, userId });
    return record && toStoredCredential(record);
  }

  private context(userId: string): ApiContext {
    return { userId, fetch: (url, request) => this.tokens.fetch(userId, url, request) };
  }

  private unsupported(what: string): ConnectorError {
    return new ConnectorError(ConnectorErrorCode.UnsupportedAction, `${this.provider} has no ${what}`, {
      provider: this.provider,
    });
  }
}

export function createConnector(options: ConnectorOptions): OAuthConnector {
  return new OAuthConnector(options);
}
