import { Type, type Static } from "@sinclair/typebox";

/**
 * The connectors' data shapes, each written once as a TypeBox schema; every type is `Static<>` of its schema.
 * Times a store keeps are epoch milliseconds (both stores compare them); times shown to callers are ISO strings.
 */

const ProviderId = Type.String({ pattern: "^[a-z][a-z0-9_-]{0,62}$", description: "todoist, github, ..." });
/** A user of the platform (tenant-scoped id); never a provider's account id, which can change hands. */
const UserId = Type.String({ minLength: 1, maxLength: 256 });

export const ConnectionStateSchema = Type.Union([Type.Literal("connected"), Type.Literal("needs_reauth")], {
  description: "needs_reauth: the provider refused the refresh token (invalid_grant); only a new consent helps",
});
export type ConnectionState = Static<typeof ConnectionStateSchema>;

/** What a provider's authorization server is, and how it bends the standard. */
export const ProviderConfigSchema = Type.Object(
  {
    id: ProviderId,
    /** The issuer identifier: checked against `iss` in the callback (RFC 9207) and in the ID token (OIDC). */
    issuer: Type.Optional(Type.String({ minLength: 1 })),
    authorizationEndpoint: Type.String({ minLength: 1 }),
    tokenEndpoint: Type.String({ minLength: 1 }),
    /** RFC 7009 revocation; a provider with its own revocation call gives `ProviderApi.revokeToken` instead. */
    revocationEndpoint: Type.Optional(Type.String({ minLength: 1 })),
    scopes: Type.Array(Type.String({ minLength: 1 })),
    clientAuth: Type.Union([
      Type.Literal("client_secret_post"),
      Type.Literal("client_secret_basic"),
      Type.Literal("none"),
    ]),
    /** OpenID Connect: a nonce is sent and the ID token (issuer, audience, nonce) is required and checked. */
    oidc: Type.Optional(Type.Boolean()),
    quirks: Type.Optional(
      Type.Object(
        {
          /** The token endpoint answers errors with HTTP 200 and an `error` member (read as the 400 it means). */
          errorsWithStatus200: Type.Optional(Type.Boolean()),
          /** How scopes are joined in the authorization request: " " by the standard, "," at Todoist. */
          scopeSeparator: Type.Optional(Type.String({ minLength: 1, maxLength: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ProviderConfig = Static<typeof ProviderConfigSchema>;

/** This platform as a client of the provider. `clientSecret` comes from configuration and is never stored. */
export const OAuthClientConfigSchema = Type.Object(
  {
    clientId: Type.String({ minLength: 1 }),
    clientSecret: Type.Optional(Type.String({ minLength: 1 })),
    redirectUri: Type.String({ minLength: 1 }),
  },
  { additionalProperties: false },
);
export type OAuthClientConfig = Static<typeof OAuthClientConfigSchema>;

/** The secret part of a connection: only ever held in memory or sealed by the vault. */
export const TokenSetSchema = Type.Object(
  {
    accessToken: Type.String({ minLength: 1 }),
    tokenType: Type.String(),
    refreshToken: Type.Optional(Type.String({ minLength: 1 })),
    /** Epoch ms; absent when the provider's tokens do not expire (Todoist). */
    expiresAt: Type.Optional(Type.Number()),
    scope: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type TokenSet = Static<typeof TokenSetSchema>;

/** A box sealed by the vault: which key sealed it, and nonce + ciphertext + tag (vault/vault.ts). */
export const SealedBoxSchema = Type.Object({ keyId: Type.String(), box: Type.Uint8Array() });
export type SealedBox = Static<typeof SealedBoxSchema>;

/** A connection as a store keeps it: metadata in the clear, tokens only sealed. */
export const ConnectionRecordSchema = Type.Object({
  provider: ProviderId,
  userId: UserId,
  state: ConnectionStateSchema,
  scopes: Type.Array(Type.String()),
  /** When the access token expires (epoch ms); null: it does not. */
  expiresAt: Type.Union([Type.Number(), Type.Null()]),
  refreshedAt: Type.Union([Type.Number(), Type.Null()]),
  /** An error code and short text, never a provider's response body. */
  lastError: Type.Union([Type.String(), Type.Null()]),
  /** Where the next `fetchSignals` without `since` resumes (Todoist: the sync token). Not a credential. */
  cursor: Type.Union([Type.String(), Type.Null()]),
  /** Counts credential writes: a refresher that finds it changed after taking the lock knows someone refreshed. */
  version: Type.Integer(),
  sealed: Type.Union([SealedBoxSchema, Type.Null()]),
  createdAt: Type.Number(),
  updatedAt: Type.Number(),
});
export type ConnectionRecord = Static<typeof ConnectionRecordSchema>;

/** What a credential write sets; `cursor` is kept when absent. */
export const ConnectionWriteSchema = Type.Composite([
  Type.Pick(ConnectionRecordSchema, ["state", "scopes", "expiresAt", "refreshedAt", "lastError", "sealed"]),
  Type.Partial(Type.Pick(ConnectionRecordSchema, ["cursor"])),
]);
export type ConnectionWrite = Static<typeof ConnectionWriteSchema>;

/**
 * An authorization in progress, kept between `beginOAuth` and `finishOAuth`: found by the hash of its state
 * (the state itself is not stored), its PKCE verifier and nonce sealed, taken once.
 */
export const PendingAuthorizationSchema = Type.Object({
  stateHash: Type.String(),
  provider: ProviderId,
  userId: UserId,
  sealed: SealedBoxSchema,
  expiresAt: Type.Number(),
});
export type PendingAuthorization = Static<typeof PendingAuthorizationSchema>;

/** The sealed part of a pending authorization. */
export const PendingSecretsSchema = Type.Object(
  { codeVerifier: Type.String(), nonce: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
export type PendingSecrets = Static<typeof PendingSecretsSchema>;

/** A connection as callers, logs and the admin API see it: never a token. */
export const StoredCredentialSchema = Type.Object({
  provider: ProviderId,
  userId: UserId,
  state: ConnectionStateSchema,
  scopes: Type.Array(Type.String()),
  expiresAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  refreshedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  /** The vault key that sealed its tokens (null once wiped): what `tessera vault rotate-key` moves. */
  keyId: Type.Union([Type.String(), Type.Null()]),
  connectedAt: Type.String({ format: "date-time" }),
  updatedAt: Type.String({ format: "date-time" }),
});
export type StoredCredential = Static<typeof StoredCredentialSchema>;

/** A change in a user's account at the provider, in one shape for every provider. */
export const NormalizedEventSchema = Type.Object({
  provider: ProviderId,
  userId: UserId,
  /** `<object>.<change>`: task.upserted, task.completed, task.deleted, ... */
  kind: Type.String({ pattern: "^[a-z_]+\\.[a-z_]+$" }),
  /** The provider's id of the object; with `kind` and `occurredAt`, what a consumer deduplicates on. */
  sourceId: Type.String(),
  occurredAt: Type.String({ format: "date-time" }),
  /** Pass back as `since` to resume after this event's page (events of one page share it). */
  cursor: Type.String(),
  title: Type.Optional(Type.String()),
  /** A few normalized fields; never the provider's raw object. */
  data: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])),
});
export type NormalizedEvent = Static<typeof NormalizedEventSchema>;

/** Something done in the user's account: `kind` names it (Todoist: complete_task), `target` its object. */
export const ConnectorActionSchema = Type.Object(
  {
    kind: Type.String({ pattern: "^[a-z_]+$" }),
    target: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);
export type ConnectorAction = Static<typeof ConnectorActionSchema>;

export const ActionResultSchema = Type.Object({
  kind: Type.String(),
  target: Type.String(),
  /** False when the provider had it done already (completing a completed task). */
  changed: Type.Boolean(),
});
export type ActionResult = Static<typeof ActionResultSchema>;
