import { Type, type Static } from "@sinclair/typebox";
import { CHANNEL_TYPE_PATTERN, SCOPE_ID_PATTERN } from "@tessera/contract";
import { named, nullable, ref, timestamp } from "./schema-naming.js";

/*
 * The gateway's control plane on the admin API (docs/gateway.md#control-plane): tenants, accounts, their
 * per-account limits and credential metadata — never a secret — the webhook URL each platform posts to, the
 * streams' health and a live tail of inbound messages. Secrets go in (write-only) and come out only as a box
 * sealed by the vault, which the gateway process opens with its own copy of the vault key.
 */

/** One name for an account in the API, the CLI and the dashboard: `<channelType>/<tenant>/<account>`. */
export function gatewayAccountId(channelType: string, tenant: string, account: string): string {
  return `${channelType}/${tenant}/${account}`;
}

/** The path a platform posts an account's webhooks to (the inbound server's route). */
export function gatewayWebhookPath(channelType: string, tenant: string, account: string): string {
  return `/hooks/${[channelType, tenant, account].map(encodeURIComponent).join("/")}`;
}

const ChannelTypeParam = Type.String({
  pattern: CHANNEL_TYPE_PATTERN,
  description: "An adapter's slug: slack, github, webhook, sample",
});
const ScopeIdParam = (what: string) =>
  Type.String({ pattern: SCOPE_ID_PATTERN, description: `The ${what}: 1-128 characters of A-Z a-z 0-9 _ . : @ -` });

export const GatewayRateLimitSchema = Type.Object(
  {
    perSecond: Type.Number({ exclusiveMinimum: 0, maximum: 10_000, description: "Sends per second, sustained" }),
    burst: Type.Integer({ minimum: 1, maximum: 100_000, description: "Sends at once after a quiet spell" }),
  },
  { additionalProperties: false },
);

/** Setting values are not secret (Slack's `appId`, a webhook's `url`): at most 32, short. */
const SettingsMap = Type.Record(
  Type.String({ pattern: "^[A-Za-z][A-Za-z0-9_.-]{0,63}$" }),
  Type.String({ maxLength: 2048 }),
  {
    maxProperties: 32,
  },
);

export const GatewayAccountSchema = named(
  "GatewayAccount",
  Type.Object(
    {
      id: Type.String({ description: "`<channelType>/<tenant>/<account>`" }),
      channelType: Type.String(),
      tenant: Type.String(),
      account: Type.String(),
      disabled: Type.Boolean({
        description: "A disabled account's webhooks are answered 403 and nothing is sent for it",
      }),
      rateLimit: nullable(GatewayRateLimitSchema, "Its own outbound limit; null: the adapter's default"),
      settings: Type.Record(Type.String(), Type.String(), { description: "Adapter settings, not secret" }),
      credentials: Type.Object(
        {
          names: Type.Array(Type.String(), {
            description: "Which credentials are held (botToken, signingSecret, …); never their values",
          }),
          signingSecrets: Type.Integer({
            description: "How many inbound signing secrets are held (more than one while rotating)",
          }),
          keyId: nullable(Type.String(), "The vault key they are sealed under; null: none held"),
          rotatedAt: nullable(Type.String({ format: "date-time" }), "When they were last set"),
          connection: nullable(
            Type.Object({
              id: Type.String({ description: "The connection, `<provider>:<userId>` (GET /api/v1/connections)" }),
              credential: Type.String({ description: "The credential its current access token fills (botToken)" }),
              installedAt: Type.String({ format: "date-time", description: "When the OAuth install completed" }),
            }),
            "Installed through OAuth: the connection whose current access token the gateway is handed (refreshes included); null: none",
          ),
        },
        { description: "Credential metadata: never a secret" },
      ),
      webhookPath: Type.String({ description: "Where the platform posts, on the gateway" }),
      webhookUrl: nullable(
        Type.String(),
        "The full webhook URL, when the gateway's public URL is known (gateway.publicUrl)",
      ),
      createdAt: timestamp("When the account was installed"),
      updatedAt: timestamp("The last change to it"),
    },
    { description: "One tenant's installation on one platform, as the control plane shows it" },
  ),
);

export const GatewayAccountListSchema = named(
  "GatewayAccountList",
  Type.Object({ items: Type.Array(ref(GatewayAccountSchema)) }, { description: "Accounts matching the filter" }),
);

export const GatewayTenantSchema = named(
  "GatewayTenant",
  Type.Object({
    tenant: Type.String(),
    accounts: Type.Integer({ description: "Accounts the tenant has installed" }),
    disabled: Type.Integer({ description: "How many of them are disabled" }),
    channelTypes: Type.Array(Type.String()),
  }),
);
export const GatewayTenantListSchema = named(
  "GatewayTenantList",
  Type.Object(
    { items: Type.Array(ref(GatewayTenantSchema)) },
    { description: "Tenants: every tenant with an account" },
  ),
);

export const GatewayStreamHealthSchema = named(
  "GatewayStreamHealth",
  Type.Object({
    name: Type.String(),
    present: Type.Boolean({
      description: "false: the stream does not exist (the gateway never started against this NATS)",
    }),
    messages: Type.Integer(),
    bytes: Type.Integer(),
    firstSeq: Type.Integer(),
    lastSeq: Type.Integer(),
    lastAt: nullable(Type.String({ format: "date-time" }), "When the newest message was stored"),
    consumers: Type.Integer(),
    duplicateWindowMs: nullable(Type.Integer(), "The stream's duplicate window"),
  }),
);

export const GatewayHealthSchema = named(
  "GatewayHealth",
  Type.Object({
    mode: Type.Union([Type.Literal("jetstream"), Type.Literal("in-process"), Type.Literal("none")], {
      description:
        "jetstream: the gateway's streams on NATS; in-process: `tessera dev`'s stand-in (never in production); none: no gateway mounted",
    }),
    streams: Type.Array(ref(GatewayStreamHealthSchema)),
    error: nullable(Type.String(), "Why the streams could not be read"),
  }),
);

export const GatewaySealedSchema = named(
  "GatewaySealed",
  Type.Object(
    {
      keyId: Type.String({ description: "The vault key that sealed it" }),
      box: Type.String({ description: "The sealed credentials, base64; only the vault key opens them" }),
    },
    {
      description: "An account's credentials as a box sealed by the vault, for the gateway process (it holds the key)",
    },
  ),
);

export type GatewayRateLimit = Static<typeof GatewayRateLimitSchema>;
export type GatewayAccountView = Static<typeof GatewayAccountSchema>;
export type GatewayAccountList = Static<typeof GatewayAccountListSchema>;
export type GatewayTenant = Static<typeof GatewayTenantSchema>;
export type GatewayTenantList = Static<typeof GatewayTenantListSchema>;
export type GatewayStreamHealth = Static<typeof GatewayStreamHealthSchema>;
export type GatewayHealth = Static<typeof GatewayHealthSchema>;
export type GatewaySealed = Static<typeof GatewaySealedSchema>;

export const GatewayInstallSchema = named(
  "GatewayInstall",
  Type.Object(
    {
      account: Type.String({ description: "`<channelType>/<tenant>/<account>`" }),
      connection: Type.String({ description: "The connection the install makes, `<provider>:<userId>`" }),
      authorizationUrl: Type.String({ description: "Open it in a browser: the provider's consent page" }),
      startedAt: timestamp("When the install began: it is complete once credentials.connection.installedAt is later"),
    },
    {
      description:
        "An OAuth install begun: the account exists (created if absent) once the provider's redirect reaches /oauth/callback",
    },
  ),
);
export type GatewayInstall = Static<typeof GatewayInstallSchema>;

// ---- requests -------------------------------------------------------------------------------------

export const GatewayAccountParams = Type.Object({
  channelType: ChannelTypeParam,
  tenant: ScopeIdParam("tenant"),
  account: ScopeIdParam("account"),
});
export type GatewayAccountParams = Static<typeof GatewayAccountParams>;

export const ListGatewayAccountsQuery = Type.Object(
  {
    tenant: Type.Optional(ScopeIdParam("tenant whose accounts to list")),
    channelType: Type.Optional(ChannelTypeParam),
  },
  { additionalProperties: false },
);
export type ListGatewayAccountsQuery = Static<typeof ListGatewayAccountsQuery>;

export const PutGatewayAccountBody = Type.Object(
  {
    disabled: Type.Optional(Type.Boolean()),
    rateLimit: Type.Optional(nullable(GatewayRateLimitSchema, "null: back to the adapter's default")),
    settings: Type.Optional(SettingsMap),
  },
  { additionalProperties: false },
);
export type PutGatewayAccountBody = Static<typeof PutGatewayAccountBody>;

const Secret = Type.String({ minLength: 1, maxLength: 4096 });
export const RotateGatewayCredentialsBody = Type.Object(
  {
    signingSecrets: Type.Optional(
      Type.Array(Secret, { minItems: 1, maxItems: 5, description: "Inbound signing secrets, newest first" }),
    ),
    keepPrevious: Type.Optional(
      Type.Boolean({
        description:
          "Keep the current signing secrets after the new ones (while the platform switches over); at most 5 kept",
      }),
    ),
    credentials: Type.Optional(
      Type.Record(Type.String({ pattern: "^[A-Za-z][A-Za-z0-9_]{0,63}$" }), Secret, {
        maxProperties: 16,
        description: "Outbound credentials by the adapter's names (botToken, signingSecret); replaces those held",
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type RotateGatewayCredentialsBody = Static<typeof RotateGatewayCredentialsBody>;

export const InstallGatewayAccountBody = Type.Object(
  {
    connector: Type.String({
      pattern: "^[a-z][a-z0-9_-]{0,62}$",
      description: "The configured connector (OAuth provider) to install through: GET /api/v1/connections lists them",
    }),
  },
  { additionalProperties: false },
);
export type InstallGatewayAccountBody = Static<typeof InstallGatewayAccountBody>;
