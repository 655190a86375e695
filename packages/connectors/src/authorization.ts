import { createHash } from "node:crypto";
import { toStoredCredential } from "./credential-view.js";
import { ConnectorError, ConnectorErrorCode } from "./errors.js";
import type { ConnectorLogger } from "./logger.js";
import type { OAuthClient } from "./oauth/oauth-client.js";
import { PendingSecretsSchema, type PendingAuthorization, type StoredCredential } from "./schemas.js";
import type { ConnectionStore } from "./store/connection-store.js";
import { credentialContext, splitScopes } from "./token-keeper.js";
import type { SealContext, Vault } from "./vault/vault.js";

/** The store finds a pending authorization by this hash: a copy of the database holds no usable state. */
export function stateHash(state: string): string {
  return createHash("sha256").update(state).digest("base64url");
}

function pendingContext(hash: string): SealContext {
  return { purpose: "pending_authorization", subject: hash };
}

export interface AuthorizationFlowOptions {
  provider: string;
  store: ConnectionStore;
  vault: Vault;
  oauth: OAuthClient;
  log: ConnectorLogger;
  /** What the token response's scope defaults to when it names none (RFC 6749 5.1: what was asked for). */
  requestedScopes: readonly string[];
  /** How long a started authorization may be finished (default 10 minutes). */
  stateTtlMs: number;
  now: () => number;
}

/**
 * The authorization code flow's two halves. `begin` makes state, PKCE verifier and (OIDC) nonce, keeps them
 * sealed under the state's hash with an expiry, and returns the provider's URL. `finish` takes that record
 * (single use: it is deleted in the same step, used or not) and redeems the code.
 */
export class AuthorizationFlow {
  constructor(private readonly o: AuthorizationFlowOptions) {}

  async begin(userId: string): Promise<{ redirectUrl: string; state: string }> {
    // Authorizations never finished are forgotten here, by whoever starts the next one (an indexed delete).
    await this.o.store.prunePending(this.o.now());
    const request = await this.o.oauth.authorizationRequest();
    const hash = stateHash(request.state);
    await this.o.store.putPending({
      stateHash: hash,
      provider: this.o.provider,
      userId,
      sealed: this.o.vault.sealJson(
        { codeVerifier: request.codeVerifier, ...(request.nonce !== undefined ? { nonce: request.nonce } : {}) },
        pendingContext(hash),
      ),
      expiresAt: this.o.now() + this.o.stateTtlMs,
    });
    return { redirectUrl: request.url, state: request.state };
  }

  take(callback: URLSearchParams): Promise<PendingAuthorization> {
    return takePendingAuthorization(this.o.store, callback, this.o.now());
  }

  /** Redeems the callback's code for `pending` (already taken) and stores the connection. */
  async complete(pending: PendingAuthorization, callback: URLSearchParams): Promise<StoredCredential> {
    if (pending.provider !== this.o.provider)
      throw new ConnectorError(
        ConnectorErrorCode.InvalidState,
        `the state belongs to ${pending.provider}, not ${this.o.provider}`,
      );
    const secrets = this.o.vault.openJson(PendingSecretsSchema, pending.sealed, pendingContext(pending.stateHash));
    const state = callback.get("state")!;
    const tokens = await this.o.oauth.exchange(callback, state, secrets.codeVerifier, secrets.nonce);
    const key = { provider: this.o.provider, userId: pending.userId };
    // Under the lock, so a refresh of the previous grant still in flight cannot overwrite the new consent.
    const record = await this.o.store.withLock(key, (locked) =>
      locked.write({
        state: "connected",
        scopes: tokens.scope !== undefined ? splitScopes(tokens.scope) : [...this.o.requestedScopes],
        expiresAt: tokens.expiresAt ?? null,
        refreshedAt: null,
        lastError: null,
        // A new grant: the old grant's sync position means nothing to it.
        cursor: null,
        sealed: this.o.vault.sealJson(tokens, credentialContext(key)),
      }),
    );
    this.o.log.info({ provider: key.provider, userId: key.userId }, "connected");
    return toStoredCredential(record);
  }
}

/**
 * Takes (and so deletes) the pending authorization the callback's state names; `invalid_state` when there is
 * none or it expired. Whoever gets it is the only one who will.
 */
export async function takePendingAuthorization(
  store: ConnectionStore,
  callback: URLSearchParams,
  now: number,
): Promise<PendingAuthorization> {
  const state = callback.get("state");
  const pending = state === null ? undefined : await store.takePending(stateHash(state));
  if (pending === undefined)
    throw new ConnectorError(
      ConnectorErrorCode.InvalidState,
      "unknown or already used state: start the connection again",
    );
  if (pending.expiresAt < now)
    throw new ConnectorError(ConnectorErrorCode.InvalidState, "the authorization expired: start the connection again", {
      provider: pending.provider,
    });
  return pending;
}
