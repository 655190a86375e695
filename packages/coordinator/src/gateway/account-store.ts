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
  /** Counts credential writes (a rotation writes only over the version it read). */
  credentialsVersion: number;
  rotatedAt: number | null;
  createdAt: number;
  updatedAt: number;
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
  delete(key: GatewayAccountKey): Promise<boolean>;
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

  async delete(key: GatewayAccountKey): Promise<boolean> {
    return this.rows.delete(accountKeyOf(key));
  }
}

function definedOnly(patch: GatewayAccountPatch): GatewayAccountPatch {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
}

function copy(a: StoredGatewayAccount): StoredGatewayAccount {
  return {
    ...a,
    settings: { ...a.settings },
    credentialNames: [...a.credentialNames],
    rateLimit: a.rateLimit === null ? null : { ...a.rateLimit },
  };
}
