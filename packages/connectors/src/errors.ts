/** Stable codes of `ConnectorError`, for the admin API and job reason codes to map. */
export const ConnectorErrorCode = {
  /** No connector is configured for this provider. */
  UnknownProvider: "unknown_provider",
  /** No connection for this provider and user. */
  NotConnected: "not_connected",
  /** The provider refused the refresh token (invalid_grant) or there is none: the user must connect again. */
  NeedsReauth: "needs_reauth",
  /** The callback's state is unknown, used already or expired; or its issuer or ID token does not match. */
  InvalidState: "invalid_state",
  /** The authorization server answered the callback with an error (the user denied access, ...). */
  AuthorizationDenied: "authorization_denied",
  /** The provider is failing (5xx, network) and its circuit breaker is open, or retries ran out. */
  ProviderUnavailable: "provider_unavailable",
  /** The provider answered with an error a retry cannot help (4xx other than invalid_grant, a bad body). */
  ProviderError: "provider_error",
  /** The connector has no such action, or the action's target was refused. */
  UnsupportedAction: "unsupported_action",
  /** A vault key is missing, malformed, or a sealed box does not open (tampered, wrong key). */
  Vault: "vault_error",
} as const;
export type ConnectorErrorCode = (typeof ConnectorErrorCode)[keyof typeof ConnectorErrorCode];

/**
 * Every error the connectors raise on purpose. Messages name codes, providers and users, never a token, a
 * secret or a provider's response body (which may echo one).
 */
export class ConnectorError extends Error {
  constructor(
    readonly code: ConnectorErrorCode,
    message: string,
    readonly details: { provider?: string; retryAfterMs?: number; status?: number } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ConnectorError";
  }
}
