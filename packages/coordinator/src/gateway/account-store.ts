import type { SealedBox } from "@tessera/connectors";

/** An account's key: one installation of one tenant on one platform. */
export interface GatewayAccountKey {
  channelType: string;
  tenant: string;
  account: string;
}

/** What the coordinator keeps of an account. Secrets only as one sealed box; the rest is metadata. */
export interface StoredGatewayAccount extends GatewayAccountKey {
  disabled: boolean;
  rateLimit: { perSecond: number; burst: number } | null;
  settings: Record<string, string>;
  /** Which credentials the box holds, by name, and how many signing secrets: what the API may show. */
  credentialNames: string[];
  signingSecretCount: number;
  sealed: SealedBox | null;
  /**
   * The connection whose access token the account uses as the credential `credential` (an OAuth install):
   * read when the credentials are asked for, so the connection's refreshes reach the gateway.
   */
  connection: GatewayConnectionRef | null;
  /** Counts credential writes (a rotation writes only over the version it read). */
  credentialsVersion: number;
  rotatedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

/** An account's OAuth connection (`provider` + `userId` in the connection store) and the credential it fills. */
export interface GatewayConnectionRef {
  provider: string;
  userId: string;
  credential: string;
  /** When the install's callback completed (ms): what `tessera gateway install` waits for. */
  installedAt: number;
}

/** One account's box as a vault key rotation reads it: replaced only if the version is unchanged. */
export interface GatewaySealedEntry {
  key: GatewayAccountKey;
  sealed: SealedBox;
  credentialsVersion: number;
}

export type GatewayAccountPatch = Partial<Pick<StoredGatewayAccount, "disabled" | "rateLimit" | "settings">>;

export interface GatewayCredentialsWrite {
  sealed: SealedBox;
  credentialNames: string[];
  signingSecretCount: number;
}

/**
 * Gateway accounts in the coordinator's store. Every replica reads the shared rows (nothing is cached here),
 * so all of them answer the same; the memory store is one process's and refuses replicas anyway.
 */
export interface GatewayAccountStore {
  list(filter?: { tenant?: string; channelType?: string }): Promise<StoredGatewayAccount[]>;
  get(key: GatewayAccountKey): Promise<StoredGatewayAccount | undefined>;
  /** Creates the account or changes the given fields; answers it as stored. */
  put(key: GatewayAccountKey, patch: GatewayAccountPatch): Promise<StoredGatewayAccount>;
  /**
   * Replaces the sealed credentials if they are still at `expectedVersion` (what the caller read and built
   * on): "written", or "moved" (another replica rotated meanwhile), or "missing" (no such account).
   */
  setCredentials(
    key: GatewayAccountKey,
    write: GatewayCredentialsWrite,
    expectedVersion: number,
  ): Promise<{ outcome: "written"; account: StoredGatewayAccount } | { outcome: "moved" | "missing" }>;
  /** Creates the account if absent and points its token credential at a connection (an OAuth install). */
  setConnection(key: GatewayAccountKey, connection: GatewayConnectionRef): Promise<StoredGatewayAccount>;
  delete(key: GatewayAccountKey): Promise<boolean>;
  /** Up to `limit` boxes sealed under another key than `keyId` (a vault key rotation's next batch). */
  sealedNotUnder(keyId: string, limit: number): Promise<GatewaySealedEntry[]>;
  /** Replaces the box if the credentials are still at the entry's version (a rotation meanwhile wins). */
  replaceSealed(entry: GatewaySealedEntry, next: SealedBox): Promise<boolean>;
  countByKey(): Promise<Record<string, number>>;
}

export const accountKeyOf = (a: GatewayAccountKey): string => JSON.stringify([a.channelType, a.tenant, a.account]);

const byKey = (a: GatewayAccountKey, b: GatewayAccountKey): number =>
  a.tenant.localeCompare(b.tenant) || a.channelType.localeCompare(b.channelType) || a.account.localeCompare(b.account);

/** The memory store's accounts: `tessera dev` without a data directory, tests. */
export class MemoryGatewayAccountStore implements GatewayAccountStore {
  private readonly rows = new Map<string, StoredGatewayAccount>();

  async list(filter: { tenant?: string; channelType?: string } = {}): Promise<StoredGatewayAccount[]> {
    return [...this.rows.values()]
      .filter(
        (a) =>
          (filter.tenant === undefined || a.tenant === filter.tenant) &&
          (filter.channelType === undefined || a.channelType === filter.channelType),
      )
      .sort(byKey)
      .map(copy);
  }

  async get(key: GatewayAccountKey): Promise<StoredGatewayAccount | undefined> {
    const row = this.rows.get(accountKeyOf(key));
    return row === undefined ? undefined : copy(row);
  }

  async put(key: GatewayAccountKey, patch: GatewayAccountPatch): Promise<StoredGatewayAccount> {
    const now = Date.now();
    const current = this.rows.get(accountKeyOf(key)) ?? {
      channelType: key.channelType,
      tenant: key.tenant,
      account: key.account,
      disabled: false,
      rateLimit: null,
      settings: {},
      credentialNames: [],
      signingSecretCount: 0,
      sealed: null,
      connection: null,
      credentialsVersion: 0,
      rotatedAt: null,
      createdAt: now,
      updatedAt: now,
    };
    const next = { ...current, ...definedOnly(patch), updatedAt: now };
    this.rows.set(accountKeyOf(key), next);
    return copy(next);
  }

  async setCredentials(key: GatewayAccountKey, write: GatewayCredentialsWrite, expectedVersion: number) {
    const current = this.rows.get(accountKeyOf(key));
    if (current === undefined) return { outcome: "missing" as const };
    if (current.credentialsVersion !== expectedVersion) return { outcome: "moved" as const };
    const now = Date.now();
    const next = { ...current, ...write, credentialsVersion: expectedVersion + 1, rotatedAt: now, updatedAt: now };
    this.rows.set(accountKeyOf(key), next);
    return { outcome: "written" as const, account: copy(next) };
  }

  async setConnection(key: GatewayAccountKey, connection: GatewayConnectionRef): Promise<StoredGatewayAccount> {
    await this.put(key, {});
    const current = this.rows.get(accountKeyOf(key))!;
    const next = { ...current, connection: { ...connection }, updatedAt: Date.now() };
    this.rows.set(accountKeyOf(key), next);
    return copy(next);
  }

  async delete(key: GatewayAccountKey): Promise<boolean> {
    return this.rows.delete(accountKeyOf(key));
  }

  async sealedNotUnder(keyId: string, limit: number): Promise<GatewaySealedEntry[]> {
    return [...this.rows.values()]
      .filter((a) => a.sealed !== null && a.sealed.keyId !== keyId)
      .slice(0, limit)
      .map((a) => ({ key: keyOf(a), sealed: a.sealed!, credentialsVersion: a.credentialsVersion }));
  }

  async replaceSealed(entry: GatewaySealedEntry, next: SealedBox): Promise<boolean> {
    const current = this.rows.get(accountKeyOf(entry.key));
    if (current === undefined || current.credentialsVersion !== entry.credentialsVersion) return false;
    this.rows.set(accountKeyOf(entry.key), {
      ...current,
      sealed: next,
      credentialsVersion: current.credentialsVersion + 1,
    });
    return true;
  }

  async countByKey(): Promise<Record<string, number>> {
    const byKey: Record<string, number> = {};
    for (const a of this.rows.values()) if (a.sealed !== null) byKey[a.sealed.keyId] = (byKey[a.sealed.keyId] ?? 0) + 1;
    return byKey;
  }
}

const keyOf = (a: GatewayAccountKey): GatewayAccountKey => ({
  channelType: a.channelType,
  tenant: a.tenant,
  account: a.account,
});

function definedOnly(patch: GatewayAccountPatch): GatewayAccountPatch {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
}

function copy(a: StoredGatewayAccount): StoredGatewayAccount {
  return {
    ...a,
    settings: { ...a.settings },
    credentialNames: [...a.credentialNames],
    rateLimit: a.rateLimit === null ? null : { ...a.rateLimit },
    connection: a.connection === null ? null : { ...a.connection },
  };
}
