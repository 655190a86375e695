import { Type, type Static } from "@sinclair/typebox";
import { named, nullable, ref, timestamp } from "./schema-naming.js";

/*
 * The admin API's view of users' connections to third-party providers (docs/connectors.md): what may be
 * shown of a connection, never a token. The coordinator maps @tessera/connectors' StoredCredential onto it.
 */

/** Where the provider sends the user back after consent, on every coordinator (register it with the provider). */
export const OAUTH_CALLBACK_PATH = "/oauth/callback";

const PROVIDER_PATTERN = "^[a-z][a-z0-9_-]{0,62}$";
const ProviderId = (description = "A configured provider: todoist, ...") =>
  Type.String({
    pattern: PROVIDER_PATTERN,
    description: `${description} (a lower-case letter, then up to 62 of a-z, 0-9, _ and -)`,
  });
const UserId = (description = "The platform user (not the provider's account id)") =>
  Type.String({ minLength: 1, maxLength: 256, description });

const CONNECTION_STATES = ["connected", "needs_reauth"] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];
const connectionState = (description: string) =>
  Type.Unsafe<ConnectionState>({ type: "string", enum: [...CONNECTION_STATES], description });

/** One name for a connection, in the API, the CLI and the dashboard: `<provider>:<userId>`. */
export function connectionId(provider: string, userId: string): string {
  return `${provider}:${userId}`;
}

/** The provider and user a connection id names (split at the first colon: providers have none), or undefined. */
export function parseConnectionId(id: string): { provider: string; userId: string } | undefined {
  const colon = id.indexOf(":");
  if (colon < 0) return undefined;
  const provider = id.slice(0, colon);
  const userId = id.slice(colon + 1);
  return new RegExp(PROVIDER_PATTERN).test(provider) && userId.length > 0 ? { provider, userId } : undefined;
}

export const ConnectionSchema = named(
  "Connection",
  Type.Object(
    {
      id: Type.String({ description: "`<provider>:<userId>`: what `tessera connections disconnect` takes" }),
      provider: Type.String(),
      userId: Type.String({ description: "The platform user the connection belongs to" }),
      state: connectionState(
        "connected: tokens held (sealed) and usable; needs_reauth: the provider refused the refresh token, the tokens were wiped and only a new consent (connect again) helps",
      ),
      scopes: Type.Array(Type.String(), { description: "What the provider granted" }),
      expiresAt: nullable(Type.String({ format: "date-time" }), "When the access token expires; null: it does not"),
      refreshedAt: nullable(Type.String({ format: "date-time" }), "The last refresh of the access token"),
      lastError: nullable(Type.String(), "The last failure talking to the provider: an error code and short text"),
      keyId: nullable(Type.String(), "The vault key its tokens are sealed under; null once wiped"),
      connectedAt: timestamp("When the connection was first made"),
      updatedAt: timestamp("The last change to it"),
    },
    { description: "A user's connection to a provider: metadata only, never a token" },
  ),
);

export const ConnectionListSchema = named(
  "ConnectionList",
  Type.Object(
    {
      configured: Type.Boolean({
        description: "Whether this coordinator has connectors configured; false: no provider, no connection",
      }),
      providers: Type.Array(Type.String(), { description: "The providers users can connect to here" }),
      items: Type.Array(ref(ConnectionSchema), { description: "Every connection matching the filter" }),
    },
    { description: "Connections and the providers they can be made to" },
  ),
);

export const ConnectionBeginSchema = named(
  "ConnectionBegin",
  Type.Object(
    {
      provider: Type.String(),
      userId: Type.String(),
      redirectUrl: Type.String({
        description:
          "The provider's authorization URL: send the user there. It carries a state that is good once, for 10 minutes; the provider then sends the user to GET /oauth/callback",
      }),
    },
    { description: "A connection begun: where the user gives consent" },
  ),
);

export const DisconnectOutcomeSchema = named(
  "DisconnectOutcome",
  Type.Object(
    {
      provider: Type.String(),
      userId: Type.String(),
      providerRevoked: Type.Boolean({
        description: "The provider confirmed the revocation; false when it has none or it failed (see providerError)",
      }),
      providerError: nullable(Type.String(), "Why the provider's revocation failed; the local tokens are wiped anyway"),
    },
    { description: "A connection ended: revoked at the provider when it could be, wiped here in every case" },
  ),
);

export const ConnectionCallbackSchema = named(
  "ConnectionCallback",
  Type.Object(
    {
      connection: ref(ConnectionSchema),
      gatewayAccount: Type.Optional(
        Type.String({ description: "The gateway account this connection installed (`<channel>/<tenant>/<account>`)" }),
      ),
    },
    { description: "The connection the OAuth callback completed (to a client that asked for JSON)" },
  ),
);

export type Connection = Static<typeof ConnectionSchema>;
export type ConnectionList = Static<typeof ConnectionListSchema>;
export type ConnectionBegin = Static<typeof ConnectionBeginSchema>;
export type DisconnectOutcome = Static<typeof DisconnectOutcomeSchema>;
export type ConnectionCallback = Static<typeof ConnectionCallbackSchema>;

// ---- requests -------------------------------------------------------------------------------------

export const ListConnectionsQuery = Type.Object(
  {
    provider: Type.Optional(ProviderId("Only this provider's connections")),
    userId: Type.Optional(UserId("Only this user's connections")),
    state: Type.Optional(connectionState("Only connections in this state")),
  },
  { additionalProperties: false },
);
export type ListConnectionsQuery = Static<typeof ListConnectionsQuery>;

export const ConnectionParams = Type.Object({ provider: ProviderId(), userId: UserId() });
export type ConnectionParams = Static<typeof ConnectionParams>;

export const BeginConnectionBody = Type.Object(
  { provider: ProviderId("The provider to connect to"), userId: UserId("The platform user who is connecting") },
  { additionalProperties: false },
);
export type BeginConnectionBody = Static<typeof BeginConnectionBody>;

/**
 * A callback parameter: visible ASCII, as RFC 6749 (appendix A) defines codes, states and error codes, and
 * bounded so that the largest callback, percent-encoded, stays well inside Node's 16 KiB request head.
 */
const CallbackParam = (maxLength: number, description: string) =>
  Type.Optional(
    Type.String({
      maxLength,
      pattern: "^[\\x20-\\x7e]*$",
      description: `${description} (visible ASCII, at most ${maxLength})`,
    }),
  );

/**
 * What a provider's redirect carries (RFC 6749 4.1.2, RFC 9207). Other parameters (`error_description`,
 * `error_uri`, a provider's own) are ignored: never read, never repeated back.
 */
export const OAuthCallbackQuery = Type.Object({
  code: CallbackParam(2048, "The authorization code"),
  state: CallbackParam(512, "The state the begin put in the authorization URL"),
  iss: CallbackParam(512, "The issuer (RFC 9207), checked when the provider sends it"),
  error: CallbackParam(128, "The provider's error code (access_denied, ...) instead of a code"),
});
export type OAuthCallbackQuery = Static<typeof OAuthCallbackQuery>;
