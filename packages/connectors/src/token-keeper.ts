import { ConnectorError, ConnectorErrorCode } from "./errors.js";
import type { ProviderHttp, ProviderRequest } from "./http/provider-http.js";
import type { ConnectorLogger } from "./logger.js";
import type { OAuthClient } from "./oauth/oauth-client.js";
import { TokenSetSchema, type ConnectionRecord, type TokenSet } from "./schemas.js";
import {
  subjectOf,
  type ConnectionKey,
  type ConnectionStore,
  type LockedConnection,
} from "./store/connection-store.js";
import type { SealContext, Vault } from "./vault/vault.js";

/** Tokens in hand, and the connection version they were read at (what a refresher compares after the lock). */
export interface CurrentTokens {
  tokens: TokenSet;
  version: number;
}

export interface TokenKeeperOptions {
  provider: string;
  store: ConnectionStore;
  vault: Vault;
  oauth: OAuthClient;
  http: ProviderHttp;
  log: ConnectorLogger;
  /** A token expiring within this much is refreshed before use (default 60 s): clocks and requests take time. */
  refreshSkewMs: number;
  now: () => number;
}

export function credentialContext(key: ConnectionKey): SealContext {
  return { purpose: "credential", subject: subjectOf(key) };
}

/**
 * Hands out a user's access token, refreshing it when it is about to expire or the provider said 401. One
 * refresh is in flight per connection: callers in this process share one promise, and the refresher holds
 * the connection's store lock, which every replica's store takes (a Postgres row lock), then reads the row
 * again: if another holder refreshed meanwhile, its tokens are used and no second refresh is made.
 */
export class TokenKeeper {
  private readonly inFlight = new Map<string, Promise<CurrentTokens>>();

  constructor(private readonly o: TokenKeeperOptions) {}

  /** The user's tokens, refreshed first if they expire within the skew. */
  async current(userId: string): Promise<CurrentTokens> {
    const key = { provider: this.o.provider, userId };
    const record = await this.o.store.get(key);
    const tokens = this.usable(key, record);
    if (!this.expiring(tokens)) return { tokens, version: record!.version };
    return this.refresh(userId, record!.version, false);
  }

  /**
   * Refreshes unless the connection has moved past `seenVersion` with tokens still good. `force`: refresh even
   * if the tokens look good (the provider answered 401 to them).
   */
  refresh(userId: string, seenVersion: number, force: boolean): Promise<CurrentTokens> {
    const key = { provider: this.o.provider, userId };
    const id = subjectOf(key);
    let shared = this.inFlight.get(id);
    if (shared === undefined) {
      shared = this.o.store
        .withLock(key, (locked) => this.refreshLocked(key, locked, seenVersion, force))
        // Thrown only once the lock is released: a holder that throws may have its writes rolled back (a SQL
        // store's transaction), and needs_reauth or last_error must be kept.
        .then((outcome) => {
          if ("failure" in outcome) throw outcome.failure;
          return outcome;
        })
        .finally(() => this.inFlight.delete(id));
      this.inFlight.set(id, shared);
    }
    return shared;
  }

  /** An API request with the user's token; a 401 refreshes once (unless someone already did) and repeats it. */
  async fetch(userId: string, url: string, request: ProviderRequest = {}): Promise<Response> {
    let current = await this.current(userId);
    for (let attempt = 0; ; attempt++) {
      const res = await this.o.http.fetch(url, {
        ...request,
        headers: { ...request.headers, authorization: `Bearer ${current.tokens.accessToken}` },
      });
      if (res.status !== 401 || attempt > 0) return res;
      await res.body?.cancel();
      current = await this.refresh(userId, current.version, true);
    }
  }

  private async refreshLocked(
    key: ConnectionKey,
    locked: LockedConnection,
    seenVersion: number,
    force: boolean,
  ): Promise<CurrentTokens | { failure: unknown }> {
    const record = locked.record;
    let tokens: TokenSet;
    try {
      tokens = this.usable(key, record);
    } catch (failure) {
      return { failure };
    }
    // Re-checked after the lock: whoever held it before may have refreshed already.
    if (!this.expiring(tokens) && (!force || record!.version !== seenVersion))
      return { tokens, version: record!.version };
    if (tokens.refreshToken === undefined) {
      await this.needsReauth(key, locked, record!, "no_refresh_token");
      return {
        failure: new ConnectorError(
          ConnectorErrorCode.NeedsReauth,
          `${key.provider} gave no refresh token: connect again`,
          { provider: key.provider },
        ),
      };
    }
    let next: TokenSet;
    try {
      next = await this.o.oauth.refresh(tokens.refreshToken);
    } catch (err) {
      if (err instanceof ConnectorError && err.code === ConnectorErrorCode.NeedsReauth) {
        await this.needsReauth(key, locked, record!, "invalid_grant");
      } else {
        const code = err instanceof ConnectorError ? err.code : "refresh_failed";
        await locked.write({ ...writeOf(record!), lastError: `${code}: ${errorText(err)}` });
        this.o.log.warn({ provider: key.provider, userId: key.userId, code }, "refreshing a connection failed");
      }
      return { failure: err };
    }
    // A provider that does not rotate refresh tokens answers without one: the old one stays good.
    const merged: TokenSet = { ...next, refreshToken: next.refreshToken ?? tokens.refreshToken };
    const written = await locked.write({
      state: "connected",
      scopes: next.scope !== undefined ? splitScopes(next.scope) : record!.scopes,
      expiresAt: merged.expiresAt ?? null,
      refreshedAt: this.o.now(),
      lastError: null,
      sealed: this.o.vault.sealJson(merged, credentialContext(key)),
    });
    this.o.log.info({ provider: key.provider, userId: key.userId, version: written.version }, "refreshed a connection");
    return { tokens: merged, version: written.version };
  }

  /** The tokens of a connected record; the errors a caller can act on otherwise. */
  private usable(key: ConnectionKey, record: ConnectionRecord | undefined): TokenSet {
    if (record === undefined)
      throw new ConnectorError(ConnectorErrorCode.NotConnected, `${key.userId} has no ${key.provider} connection`, {
        provider: key.provider,
      });
    if (record.state === "needs_reauth" || record.sealed === null)
      throw new ConnectorError(
        ConnectorErrorCode.NeedsReauth,
        `${key.userId}'s ${key.provider} connection needs a new consent (${record.lastError ?? "no tokens"})`,
        { provider: key.provider },
      );
    return this.o.vault.openJson(TokenSetSchema, record.sealed, credentialContext(key));
  }

  private expiring(tokens: TokenSet): boolean {
    return tokens.expiresAt !== undefined && tokens.expiresAt - this.o.now() <= this.o.refreshSkewMs;
  }

  /** The grant is dead: tokens wiped (nothing left to leak or to try again), state needs_reauth. */
  private async needsReauth(key: ConnectionKey, locked: LockedConnection, record: ConnectionRecord, why: string) {
    await locked.write({ ...writeOf(record), state: "needs_reauth", expiresAt: null, sealed: null, lastError: why });
    this.o.log.warn({ provider: key.provider, userId: key.userId, reason: why }, "connection needs a new consent");
  }
}

function writeOf(r: ConnectionRecord) {
  return {
    state: r.state,
    scopes: r.scopes,
    expiresAt: r.expiresAt,
    refreshedAt: r.refreshedAt,
    lastError: r.lastError,
    sealed: r.sealed,
  };
}

export function splitScopes(scope: string): string[] {
  return scope.split(/[\s,]+/).filter((s) => s !== "");
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 300);
}
