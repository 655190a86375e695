import type { NatsConnection } from "@nats-io/transport-node";
import type { GatewayAccountView, GatewaySealed } from "@tessera/client/schemas";
import { gatewayAccountId } from "@tessera/client/schemas";
import { openGatewaySecrets, type GatewaySecrets, type Vault } from "@tessera/connectors/storage";
import { gatewayAccountChangesSubject } from "@tessera/contract";
import type { AccountDirectory, GatewayAccount } from "../accounts.js";

/*
 * The credential adapter (decision 0042): accounts from the coordinator's control plane, their credentials
 * opened with the connectors' vault. The coordinator seals; only a process holding the vault key opens, so the
 * admin API never carries a secret. Lookups are cached for `ttlMs` (the inbound path must not wait on the
 * coordinator for every webhook) and dropped at once when a coordinator announces a change on NATS.
 */

/** Where account records come from: the admin API (a gateway process) or the coordinator in this process. */
export interface AccountRecordSource {
  account(channelType: string, tenant: string, account: string): Promise<GatewayAccountView | undefined>;
  sealed(channelType: string, tenant: string, account: string): Promise<GatewaySealed | undefined>;
}

export const ACCOUNT_CACHE_TTL_MS = 5_000;

/** The gateway's view of an account from the control plane's view and its opened secrets. */
export function toGatewayAccount(view: GatewayAccountView, secrets: GatewaySecrets): GatewayAccount {
  return {
    tenant: view.tenant,
    account: view.account,
    channelType: view.channelType,
    signingSecrets: secrets.signingSecrets,
    credentials: secrets.credentials,
    settings: view.settings,
    ...(view.rateLimit !== null ? { rateLimit: view.rateLimit } : {}),
    disabled: view.disabled,
  };
}

/** Loads an account from `source`, opening its sealed credentials with `vault`. */
export function sealedAccountLoader(source: AccountRecordSource, vault: Vault | undefined) {
  return async (channelType: string, tenant: string, account: string): Promise<GatewayAccount | undefined> => {
    const view = await source.account(channelType, tenant, account);
    if (view === undefined) return undefined;
    // An account installed through OAuth holds its token by reference: its box is sealed when asked for, with
    // the connection's current access token, so it is asked for even when the account holds no box of its own.
    const held = view.credentials.keyId !== null || view.credentials.connection !== null;
    const sealed = held ? await source.sealed(channelType, tenant, account) : undefined;
    if (sealed !== undefined && vault === undefined)
      throw new Error(
        `account ${view.id} has sealed credentials and this gateway has no vault key (TESSERA_VAULT_KEY_FILE or TESSERA_VAULT_KEYS)`,
      );
    const secrets =
      sealed === undefined || vault === undefined
        ? { signingSecrets: [], credentials: {} }
        : openGatewaySecrets(vault, view.id, {
            keyId: sealed.keyId,
            box: new Uint8Array(Buffer.from(sealed.box, "base64")),
          });
    return toGatewayAccount(view, secrets);
  };
}

export interface CachedAccountDirectory extends AccountDirectory {
  /** Forgets one account (`<channel>/<tenant>/<account>`), so the next lookup asks the source. */
  invalidate(accountId: string): void;
  close(): void;
}

export interface CachedAccountsOptions {
  ttlMs?: number;
  now?: () => number;
  /** Listens for coordinators' change announcements here. */
  nats?: NatsConnection;
}

/** An AccountDirectory over a loader, each lookup cached (misses too) for `ttlMs`, concurrent lookups shared. */
export function cachedAccounts(
  load: (channelType: string, tenant: string, account: string) => Promise<GatewayAccount | undefined>,
  options: CachedAccountsOptions = {},
): CachedAccountDirectory {
  const ttlMs = options.ttlMs ?? ACCOUNT_CACHE_TTL_MS;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { expires: number; value: Promise<GatewayAccount | undefined> }>();
  const sub = options.nats?.subscribe(gatewayAccountChangesSubject(), {
    callback: (err, msg) => {
      if (err === null) cache.delete(msg.string());
    },
  });
  return {
    get(channelType, tenant, account) {
      const id = gatewayAccountId(channelType, tenant, account);
      const hit = cache.get(id);
      if (hit !== undefined && hit.expires > now()) return hit.value;
      const value = load(channelType, tenant, account);
      cache.set(id, { expires: now() + ttlMs, value });
      // A failed lookup is not remembered: the next request asks again.
      value.catch(() => {
        if (cache.get(id)?.value === value) cache.delete(id);
      });
      return value;
    },
    invalidate: (id) => void cache.delete(id),
    close: () => sub?.unsubscribe(),
  };
}
