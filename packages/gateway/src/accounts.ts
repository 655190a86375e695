import type { RateLimit } from "./adapter.js";

/**
 * One tenant's installation on one platform, as the gateway needs it. Secrets are here because verification and
 * sending need them; they never go into a Message, a log line or an error.
 */
export interface GatewayAccount {
  tenant: string;
  account: string;
  channelType: string;
  /** Keys that verify inbound signatures; several while a key is being rotated. */
  signingSecrets: readonly string[];
  /** What outbound calls authenticate with, by the adapter's names (Slack: `botToken`; webhook: `signingSecret`). */
  credentials?: Readonly<Record<string, string>>;
  /** Adapter settings that are not secret (Slack: `appId`, `apiBase`; webhook: `url`). */
  settings?: Readonly<Record<string, string>>;
  /** This account's own outbound limit, over the adapter's default. */
  rateLimit?: RateLimit;
  disabled?: boolean;
}

/** Where the gateway looks accounts up. The control plane (not built yet) will back it with the coordinator. */
export interface AccountDirectory {
  get(channelType: string, tenant: string, account: string): Promise<GatewayAccount | undefined>;
}

/** A fixed list of accounts: for tests, `tessera dev` and small deployments configured from a file. */
export function staticAccounts(accounts: readonly GatewayAccount[]): AccountDirectory {
  const byKey = new Map<string, GatewayAccount>();
  for (const a of accounts) {
    const key = JSON.stringify([a.channelType, a.tenant, a.account]);
    if (byKey.has(key)) throw new Error(`account ${a.channelType}/${a.tenant}/${a.account} is listed twice`);
    byKey.set(key, a);
  }
  return { get: async (c, t, a) => byKey.get(JSON.stringify([c, t, a])) };
}
