import type {
  GatewayAccountView,
  GatewayHealth,
  GatewayInstall,
  GatewaySealed,
  GatewayStreamHealth,
  GatewayTenant,
} from "@tessera/client/schemas";
import { connectionId, gatewayAccountId, gatewayWebhookPath } from "@tessera/client/schemas";
import type { ConnectionService, StoredCredential } from "@tessera/connectors";
import {
  ConnectorError,
  ConnectorErrorCode,
  openGatewaySecrets,
  sealGatewaySecrets,
  type GatewaySecrets,
  type Vault,
} from "@tessera/connectors/storage";
import type { Message } from "@tessera/contract";
import { CoordinatorError } from "../errors.js";
import type {
  GatewayAccountKey,
  GatewayAccountPatch,
  GatewayAccountStore,
  StoredGatewayAccount,
} from "./account-store.js";
import { accountOfInstall, beginInstall, connectionRefOf } from "./oauth-install.js";

/** How many signing secrets an account keeps at most (the newest first) while a platform rotates its key. */
export const MAX_SIGNING_SECRETS = 5;

/** Connection errors that mean no token until an operator acts (reinstall), not a transient failure. */
const LOST = new Set<string>([ConnectorErrorCode.NotConnected, ConnectorErrorCode.NeedsReauth]);

/** Rotations of one account racing on several replicas: each loser reads again, this many times at most. */
const MAX_ROTATION_ATTEMPTS = 5;

/**
 * Where the inbound messages and the streams' figures come from: the gateway's JetStream streams (any process
 * on the NATS sees every message, so every coordinator replica serves the same tail), or `tessera dev`'s
 * in-process stand-in. Built by whoever starts the coordinator (`@tessera/gateway` has both); the coordinator
 * only reads it.
 */
export interface GatewayFeed {
  readonly mode: "jetstream" | "in-process";
  /** Every inbound Message as it is stored; returns the unsubscribe. */
  onMessage(listener: (message: Message) => void): () => void;
  streams(): Promise<GatewayStreamHealth[]>;
  /** Tells gateway processes an account changed, so they drop what they cached of it. */
  accountChanged?(accountId: string): void;
}

export interface GatewayControlOptions {
  store: GatewayAccountStore;
  /** Seals credentials; without it (no vault key) credentials cannot be set. */
  vault?: Vault;
  feed?: GatewayFeed;
  /** The connectors' connections: OAuth installs, and the tokens of the accounts they installed. */
  connections?: ConnectionService;
  /** The gateway's public base URL (the `gateway.publicUrl` setting), for each account's webhook URL. */
  publicUrl: () => string | null;
}

export interface RotateCredentials {
  signingSecrets?: string[];
  keepPrevious?: boolean;
  credentials?: Record<string, string>;
}

/** The control plane's operations on tenants and accounts; the admin API's gateway routes call it. */
export class GatewayControl {
  private readonly o: GatewayControlOptions;

  constructor(options: GatewayControlOptions) {
    this.o = { ...options };
  }

  get feed(): GatewayFeed | undefined {
    return this.o.feed;
  }

  /** Sets the feed once a gateway is mounted after the coordinator started (`tessera dev`). */
  attachFeed(feed: GatewayFeed): void {
    this.o.feed = feed;
  }

  async list(filter: { tenant?: string; channelType?: string } = {}): Promise<GatewayAccountView[]> {
    return (await this.o.store.list(filter)).map((a) => this.view(a));
  }

  async tenants(): Promise<GatewayTenant[]> {
    const byTenant = new Map<string, GatewayTenant>();
    for (const a of await this.o.store.list()) {
      const t = byTenant.get(a.tenant) ?? { tenant: a.tenant, accounts: 0, disabled: 0, channelTypes: [] };
      t.accounts += 1;
      if (a.disabled) t.disabled += 1;
      if (!t.channelTypes.includes(a.channelType)) t.channelTypes.push(a.channelType);
      byTenant.set(a.tenant, t);
    }
    return [...byTenant.values()];
  }

  async get(key: GatewayAccountKey): Promise<GatewayAccountView | undefined> {
    const found = await this.o.store.get(key);
    return found === undefined ? undefined : this.view(found);
  }

  async put(key: GatewayAccountKey, patch: GatewayAccountPatch): Promise<GatewayAccountView> {
    const stored = await this.o.store.put(key, patch);
    this.o.feed?.accountChanged?.(idOf(key));
    return this.view(stored);
  }

  async remove(key: GatewayAccountKey): Promise<boolean> {
    const removed = await this.o.store.delete(key);
    if (removed) this.o.feed?.accountChanged?.(idOf(key));
    return removed;
  }

  /** Replaces the account's credentials (keeping the current signing secrets after the new ones when asked). */
  async rotate(key: GatewayAccountKey, change: RotateCredentials): Promise<GatewayAccountView | undefined> {
    const vault = this.requireVault();
    const id = idOf(key);
    // Built on what was read, written only over that: a rotation another replica made meanwhile is read again
    // and kept (keepPrevious), never overwritten.
    for (let attempt = 1; ; attempt++) {
      const current = await this.o.store.get(key);
      if (current === undefined) return undefined;
      const held: GatewaySecrets =
        current.sealed === null
          ? { signingSecrets: [], credentials: {} }
          : openGatewaySecrets(vault, id, current.sealed);
      const signingSecrets =
        change.signingSecrets === undefined
          ? held.signingSecrets
          : [...change.signingSecrets, ...(change.keepPrevious === true ? held.signingSecrets : [])]
              .filter((s, i, all) => all.indexOf(s) === i)
              .slice(0, MAX_SIGNING_SECRETS);
      const credentials = change.credentials ?? held.credentials;
      const written = await this.o.store.setCredentials(
        key,
        {
          sealed: sealGatewaySecrets(vault, id, { signingSecrets, credentials }),
          credentialNames: Object.keys(credentials).sort(),
          signingSecretCount: signingSecrets.length,
        },
        current.credentialsVersion,
      );
      if (written.outcome === "missing") return undefined;
      if (written.outcome === "written") {
        this.o.feed?.accountChanged?.(id);
        return this.view(written.account);
      }
      if (attempt >= MAX_ROTATION_ATTEMPTS)
        throw new CoordinatorError("conflict", `the credentials of ${id} kept changing while rotating them; retry`);
    }
  }

  /** Begins an OAuth install of the account through `connector`: the provider's consent URL. */
  install(key: GatewayAccountKey, connector: string): Promise<GatewayInstall> {
    return beginInstall(this.o.connections, key, connector, Date.now());
  }

  /**
   * Called with every connection the OAuth callback completed: one an install began becomes its account's
   * credential reference (the account created if absent). Undefined for any other connection.
   */
  async completeInstall(
    connection: Pick<StoredCredential, "provider" | "userId">,
  ): Promise<GatewayAccountView | undefined> {
    const key = accountOfInstall(connection.userId);
    if (key === undefined) return undefined;
    const stored = await this.o.store.setConnection(key, connectionRefOf(key, connection.provider, Date.now()));
    this.o.feed?.accountChanged?.(idOf(key));
    return this.view(stored);
  }

  /**
   * The credentials as the vault sealed them, for a gateway process holding the key; undefined: none held. An
   * account installed through OAuth gets a box sealed now, with its connection's current access token in it.
   */
  async sealed(key: GatewayAccountKey): Promise<GatewaySealed | undefined> {
    const found = await this.o.store.get(key);
    if (found === undefined) return undefined;
    let sealed = found.sealed;
    if (found.connection !== null) {
      const vault = this.requireVault();
      sealed = sealGatewaySecrets(vault, idOf(key), await this.secretsOf(found, vault));
    }
    if (sealed === null) return undefined;
    return { keyId: sealed.keyId, box: Buffer.from(sealed.box).toString("base64") };
  }

  /** The account with its secrets opened: for a gateway mounted in this process (`tessera dev`), never the API. */
  async resolve(key: GatewayAccountKey): Promise<{ view: GatewayAccountView; secrets: GatewaySecrets } | undefined> {
    const found = await this.o.store.get(key);
    if (found === undefined) return undefined;
    const secrets =
      this.o.vault === undefined ? { signingSecrets: [], credentials: {} } : await this.secretsOf(found, this.o.vault);
    return { view: this.view(found), secrets };
  }

  /** The account's own box opened, and its connection's access token, read now, as the credential it fills. */
  private async secretsOf(a: StoredGatewayAccount, vault: Vault): Promise<GatewaySecrets> {
    const own =
      a.sealed === null ? { signingSecrets: [], credentials: {} } : openGatewaySecrets(vault, idOf(a), a.sealed);
    const ref = a.connection;
    if (ref === null) return own;
    if (this.o.connections === undefined)
      throw new CoordinatorError(
        "conflict",
        `${idOf(a)} takes its token from the connection ${ref.provider}:${ref.userId} and this coordinator has no connectors configured`,
      );
    let token: string;
    try {
      token = await this.o.connections.accessToken(ref.provider, ref.userId);
    } catch (err) {
      // A connection gone or needing a new consent leaves the account without that credential (its sends are
      // refused as credentials_missing) but still verifying webhooks; a provider down is an error worth a retry.
      if (err instanceof ConnectorError && LOST.has(err.code)) return own;
      throw err;
    }
    return { signingSecrets: own.signingSecrets, credentials: { ...own.credentials, [ref.credential]: token } };
  }

  private requireVault(): Vault {
    if (this.o.vault === undefined)
      throw new CoordinatorError(
        "conflict",
        "credentials cannot be stored: the coordinator has no vault key (set TESSERA_VAULT_KEY_FILE or TESSERA_VAULT_KEYS)",
      );
    return this.o.vault;
  }

  async health(): Promise<GatewayHealth> {
    const feed = this.o.feed;
    if (feed === undefined) return { mode: "none", streams: [], error: null };
    try {
      return { mode: feed.mode, streams: await feed.streams(), error: null };
    } catch (err) {
      return { mode: feed.mode, streams: [], error: (err as Error).message };
    }
  }

  private view(a: StoredGatewayAccount): GatewayAccountView {
    const path = gatewayWebhookPath(a.channelType, a.tenant, a.account);
    const base = this.o.publicUrl();
    return {
      id: idOf(a),
      channelType: a.channelType,
      tenant: a.tenant,
      account: a.account,
      disabled: a.disabled,
      rateLimit: a.rateLimit,
      settings: a.settings,
      credentials: {
        names:
          a.connection === null
            ? a.credentialNames
            : [...new Set([...a.credentialNames, a.connection.credential])].sort(),
        signingSecrets: a.signingSecretCount,
        keyId: a.sealed?.keyId ?? null,
        rotatedAt: a.rotatedAt === null ? null : new Date(a.rotatedAt).toISOString(),
        connection:
          a.connection === null
            ? null
            : {
                id: connectionId(a.connection.provider, a.connection.userId),
                credential: a.connection.credential,
                installedAt: new Date(a.connection.installedAt).toISOString(),
              },
      },
      webhookPath: path,
      webhookUrl: base === null ? null : `${base.replace(/\/$/, "")}${path}`,
      createdAt: new Date(a.createdAt).toISOString(),
      updatedAt: new Date(a.updatedAt).toISOString(),
    };
  }
}

const idOf = (k: GatewayAccountKey): string => gatewayAccountId(k.channelType, k.tenant, k.account);
