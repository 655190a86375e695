import type { SqlExecutor } from "../sql/sql-client.js";
import type { SealedBox } from "@tessera/connectors";
import type {
  GatewayAccountKey,
  GatewayConnectionRef,
  GatewayAccountPatch,
  GatewayAccountStore,
  GatewayCredentialsWrite,
  GatewaySealedEntry,
  StoredGatewayAccount,
} from "./account-store.js";

const COLUMNS = `channel_type, tenant, account, disabled, rate_limit, settings, credential_names, signing_secret_count,
  credentials_version, key_id, sealed, connection,
  (extract(epoch FROM rotated_at) * 1000)::float8 AS rotated_at,
  (extract(epoch FROM created_at) * 1000)::float8 AS created_at,
  (extract(epoch FROM updated_at) * 1000)::float8 AS updated_at`;

interface Row extends Record<string, unknown> {
  channel_type: string;
  tenant: string;
  account: string;
  disabled: boolean;
  rate_limit: { perSecond: number; burst: number } | null;
  settings: Record<string, string>;
  credential_names: string[];
  signing_secret_count: number;
  credentials_version: number;
  key_id: string | null;
  sealed: Uint8Array | null;
  connection: GatewayConnectionRef | null;
  rotated_at: number | null;
  created_at: number;
  updated_at: number;
}

function toAccount(r: Row): StoredGatewayAccount {
  return {
    channelType: r.channel_type,
    tenant: r.tenant,
    account: r.account,
    disabled: r.disabled,
    rateLimit: r.rate_limit,
    settings: r.settings,
    credentialNames: r.credential_names,
    signingSecretCount: r.signing_secret_count,
    // pg gives a Buffer, PGlite a Uint8Array: both are handed on as a plain Uint8Array.
    sealed: r.key_id === null || r.sealed === null ? null : { keyId: r.key_id, box: new Uint8Array(r.sealed) },
    connection: r.connection,
    credentialsVersion: r.credentials_version,
    rotatedAt: r.rotated_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

const bytes = (box: Uint8Array): Buffer => Buffer.from(box.buffer, box.byteOffset, box.byteLength);

const KEY = `channel_type = $1 AND tenant = $2 AND account = $3`;
const keyParams = (k: GatewayAccountKey) => [k.channelType, k.tenant, k.account];

/** Gateway accounts in the coordinator's SQL database (migrations 5 and 6), shared by every replica on it. */
export class SqlGatewayAccountStore implements GatewayAccountStore {
  constructor(private readonly sql: SqlExecutor) {}

  async list(filter: { tenant?: string; channelType?: string } = {}): Promise<StoredGatewayAccount[]> {
    const res = await this.sql.query<Row>(
      `SELECT ${COLUMNS} FROM tessera_gateway_accounts
       WHERE ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR channel_type = $2)
       ORDER BY tenant, channel_type, account`,
      [filter.tenant ?? null, filter.channelType ?? null],
    );
    return res.rows.map(toAccount);
  }

  async get(key: GatewayAccountKey): Promise<StoredGatewayAccount | undefined> {
    const res = await this.sql.query<Row>(
      `SELECT ${COLUMNS} FROM tessera_gateway_accounts WHERE ${KEY}`,
      keyParams(key),
    );
    return res.rows[0] === undefined ? undefined : toAccount(res.rows[0]);
  }

  async put(key: GatewayAccountKey, patch: GatewayAccountPatch): Promise<StoredGatewayAccount> {
    // One statement: two replicas creating the same account at once end with one row and both changes applied.
    const res = await this.sql.query<Row>(
      `INSERT INTO tessera_gateway_accounts AS a (channel_type, tenant, account, disabled, rate_limit, settings)
       VALUES ($1, $2, $3, coalesce($4, false), $5::jsonb, coalesce($6::jsonb, '{}'::jsonb))
       ON CONFLICT (channel_type, tenant, account) DO UPDATE SET
         disabled = coalesce($4, a.disabled),
         rate_limit = CASE WHEN $7 THEN $5::jsonb ELSE a.rate_limit END,
         settings = coalesce($6::jsonb, a.settings),
         updated_at = now()
       RETURNING ${COLUMNS}`,
      [
        ...keyParams(key),
        patch.disabled ?? null,
        patch.rateLimit === undefined || patch.rateLimit === null ? null : JSON.stringify(patch.rateLimit),
        patch.settings === undefined ? null : JSON.stringify(patch.settings),
        patch.rateLimit !== undefined,
      ],
    );
    return toAccount(res.rows[0]!);
  }

  async setCredentials(key: GatewayAccountKey, write: GatewayCredentialsWrite, expectedVersion: number) {
    const res = await this.sql.query<Row>(
      `UPDATE tessera_gateway_accounts SET key_id = $4, sealed = $5, credential_names = $6, signing_secret_count = $7,
         credentials_version = credentials_version + 1, rotated_at = now(), updated_at = now()
       WHERE ${KEY} AND credentials_version = $8 RETURNING ${COLUMNS}`,
      [
        ...keyParams(key),
        write.sealed.keyId,
        bytes(write.sealed.box),
        write.credentialNames,
        write.signingSecretCount,
        expectedVersion,
      ],
    );
    if (res.rows[0] !== undefined) return { outcome: "written" as const, account: toAccount(res.rows[0]) };
    return { outcome: (await this.get(key)) === undefined ? ("missing" as const) : ("moved" as const) };
  }

  async setConnection(key: GatewayAccountKey, connection: GatewayConnectionRef): Promise<StoredGatewayAccount> {
    const res = await this.sql.query<Row>(
      `INSERT INTO tessera_gateway_accounts AS a (channel_type, tenant, account, connection)
       VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (channel_type, tenant, account) DO UPDATE SET connection = $4::jsonb, updated_at = now()
       RETURNING ${COLUMNS}`,
      [...keyParams(key), JSON.stringify(connection)],
    );
    return toAccount(res.rows[0]!);
  }

  async delete(key: GatewayAccountKey): Promise<boolean> {
    const res = await this.sql.query(`DELETE FROM tessera_gateway_accounts WHERE ${KEY}`, keyParams(key));
    return res.rowCount > 0;
  }

  async sealedNotUnder(keyId: string, limit: number): Promise<GatewaySealedEntry[]> {
    // Only the columns of migration 5: `tessera vault rotate-key` of this version also walks a database a
    // release-5 coordinator migrated.
    const res = await this.sql.query<
      Pick<Row, "channel_type" | "tenant" | "account" | "credentials_version"> & {
        key_id: string;
        sealed: Uint8Array;
      }
    >(
      `SELECT channel_type, tenant, account, credentials_version, key_id, sealed FROM tessera_gateway_accounts
       WHERE key_id IS NOT NULL AND key_id <> $1 ORDER BY channel_type, tenant, account LIMIT $2`,
      [keyId, limit],
    );
    return res.rows.map((r) => ({
      key: { channelType: r.channel_type, tenant: r.tenant, account: r.account },
      sealed: { keyId: r.key_id, box: new Uint8Array(r.sealed) },
      credentialsVersion: r.credentials_version,
    }));
  }

  async replaceSealed(entry: GatewaySealedEntry, next: SealedBox): Promise<boolean> {
    // The version, not the bytes, is compared: every credential write bumps it, and a rotation of the account
    // that happened meanwhile must win over this reseal of what it replaced.
    const res = await this.sql.query(
      `UPDATE tessera_gateway_accounts SET key_id = $4, sealed = $5, credentials_version = credentials_version + 1
       WHERE ${KEY} AND credentials_version = $6`,
      [...keyParams(entry.key), next.keyId, bytes(next.box), entry.credentialsVersion],
    );
    return res.rowCount > 0;
  }

  async countByKey(): Promise<Record<string, number>> {
    const res = await this.sql.query<{ key_id: string; n: number }>(
      `SELECT key_id, count(*)::int AS n FROM tessera_gateway_accounts WHERE key_id IS NOT NULL GROUP BY key_id`,
    );
    return Object.fromEntries(res.rows.map((r) => [r.key_id, r.n]));
  }
}
