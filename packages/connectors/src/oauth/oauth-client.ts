import * as oauth from "oauth4webapi";
import { ConnectorError, ConnectorErrorCode } from "../errors.js";
import type { ProviderHttp } from "../http/provider-http.js";
import type { OAuthClientConfig, ProviderConfig, TokenSet } from "../schemas.js";

/** What `beginOAuth` keeps (sealed) and sends: state, PKCE verifier and challenge, and a nonce for OIDC. */
export interface AuthorizationRequest {
  url: string;
  state: string;
  codeVerifier: string;
  nonce?: string;
}

export interface OAuthClientOptions {
  /**
   * Lets the endpoints be plain `http:` (oauth4webapi refuses them otherwise). Only for tests against servers
   * on loopback; the egress guard still decides what may be reached.
   */
  allowInsecureRequests?: boolean;
  now?: () => number;
}

/**
 * The OAuth 2.0 client of one provider, on oauth4webapi: authorization code with PKCE (S256), state, a nonce
 * and ID-token checks for OIDC providers, refresh and RFC 7009 revocation. Every request goes out through the
 * provider's `ProviderHttp` (egress guard, breaker, retries); the provider's quirks are undone there, before
 * oauth4webapi reads the answer, so the library's checks run on every provider alike.
 */
export class OAuthClient {
  private readonly as: oauth.AuthorizationServer;
  private readonly client: oauth.Client;
  private readonly clientAuth: oauth.ClientAuth;
  private readonly now: () => number;
  private readonly options: oauth.HttpRequestOptions<"POST", URLSearchParams>;

  constructor(
    private readonly provider: ProviderConfig,
    private readonly config: OAuthClientConfig,
    http: ProviderHttp,
    opts: OAuthClientOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.as = {
      // Providers without an issuer (plain OAuth 2.0) are named by their authorization endpoint's origin; a
      // callback's `iss` is then never expected, and never matches if one is sent.
      issuer: provider.issuer ?? new URL(provider.authorizationEndpoint).origin,
      authorization_endpoint: provider.authorizationEndpoint,
      token_endpoint: provider.tokenEndpoint,
      ...(provider.revocationEndpoint !== undefined ? { revocation_endpoint: provider.revocationEndpoint } : {}),
    };
    this.client = { client_id: config.clientId };
    this.clientAuth = clientAuthFor(provider, config);
    const errorsWith200 = provider.quirks?.errorsWithStatus200 === true;
    this.options = {
      [oauth.customFetch]: async (url, init) => {
        const res = await http.fetch(url, {
          method: init.method,
          headers: init.headers,
          ...(init.body !== undefined ? { body: init.body.toString() } : {}),
        });
        return errorsWith200 ? errorStatusRestored(res) : res;
      },
      ...(opts.allowInsecureRequests === true ? { [oauth.allowInsecureRequests]: true } : {}),
    };
  }

  async authorizationRequest(): Promise<AuthorizationRequest> {
    const codeVerifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = this.provider.oidc === true ? oauth.generateRandomNonce() : undefined;
    const url = new URL(this.provider.authorizationEndpoint);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("client_id", this.config.clientId);
    url.searchParams.set("redirect_uri", this.config.redirectUri);
    url.searchParams.set("scope", this.provider.scopes.join(this.provider.quirks?.scopeSeparator ?? " "));
    url.searchParams.set("state", state);
    url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(codeVerifier));
    url.searchParams.set("code_challenge_method", "S256");
    if (nonce !== undefined) url.searchParams.set("nonce", nonce);
    return { url: url.href, state, codeVerifier, ...(nonce !== undefined ? { nonce } : {}) };
  }

  /** Checks the callback (error, state, issuer) and redeems its code with the PKCE verifier. */
  async exchange(
    callback: URLSearchParams,
    expectedState: string,
    codeVerifier: string,
    nonce?: string,
  ): Promise<TokenSet> {
    let params: URLSearchParams;
    try {
      params = oauth.validateAuthResponse(this.as, this.client, callback, expectedState);
    } catch (err) {
      if (err instanceof oauth.AuthorizationResponseError)
        throw new ConnectorError(
          ConnectorErrorCode.AuthorizationDenied,
          `${this.provider.id} refused the authorization: ${safeCode(err.error)}`,
          { provider: this.provider.id },
        );
      throw new ConnectorError(
        ConnectorErrorCode.InvalidState,
        `${this.provider.id} callback refused: ${messageOf(err)}`,
        {
          provider: this.provider.id,
        },
      );
    }
    return this.tokenCall("exchange", async () => {
      const res = await oauth.authorizationCodeGrantRequest(
        this.as,
        this.client,
        this.clientAuth,
        params,
        this.config.redirectUri,
        codeVerifier,
        this.options,
      );
      return oauth.processAuthorizationCodeResponse(this.as, this.client, res, {
        ...(nonce !== undefined ? { expectedNonce: nonce, requireIdToken: true } : {}),
      });
    });
  }

  /** A refresh; `invalid_grant` becomes `needs_reauth`. */
  async refresh(refreshToken: string): Promise<TokenSet> {
    return this.tokenCall("refresh", async () => {
      const res = await oauth.refreshTokenGrantRequest(
        this.as,
        this.client,
        this.clientAuth,
        refreshToken,
        this.options,
      );
      return oauth.processRefreshTokenResponse(this.as, this.client, res);
    });
  }

  /** RFC 7009 revocation of one token; a provider without a revocation endpoint has nothing to call. */
  async revoke(token: string, hint: "access_token" | "refresh_token"): Promise<boolean> {
    if (this.provider.revocationEndpoint === undefined) return false;
    try {
      const res = await oauth.revocationRequest(this.as, this.client, this.clientAuth, token, {
        ...this.options,
        additionalParameters: { token_type_hint: hint },
      });
      await oauth.processRevocationResponse(res);
      return true;
    } catch (err) {
      throw this.mapError(err, "revoke");
    }
  }

  private async tokenCall(
    what: "exchange" | "refresh",
    call: () => Promise<oauth.TokenEndpointResponse>,
  ): Promise<TokenSet> {
    let response: oauth.TokenEndpointResponse;
    try {
      response = await call();
    } catch (err) {
      throw this.mapError(err, what);
    }
    return {
      accessToken: response.access_token,
      tokenType: response.token_type,
      ...(response.refresh_token !== undefined ? { refreshToken: response.refresh_token } : {}),
      ...(typeof response.expires_in === "number" ? { expiresAt: this.now() + response.expires_in * 1000 } : {}),
      ...(response.scope !== undefined ? { scope: response.scope } : {}),
    };
  }

  /**
   * oauth4webapi's errors carry the response body and the request's parameters as their `cause`: they are not
   * passed on, so a token or a code in them never reaches a log through an error's cause chain.
   */
  private mapError(err: unknown, what: "exchange" | "refresh" | "revoke"): unknown {
    const provider = this.provider.id;
    if (err instanceof ConnectorError) return err;
    if (err instanceof oauth.ResponseBodyError) {
      const code = safeCode(err.error);
      if (code === "invalid_grant" && what === "refresh")
        return new ConnectorError(
          ConnectorErrorCode.NeedsReauth,
          `${provider} refused the refresh token (invalid_grant)`,
          {
            provider,
            status: err.status,
          },
        );
      if (code === "invalid_grant" && what === "exchange")
        return new ConnectorError(ConnectorErrorCode.InvalidState, `${provider} refused the code (invalid_grant)`, {
          provider,
          status: err.status,
        });
      return new ConnectorError(
        ConnectorErrorCode.ProviderError,
        `${provider} ${what} failed: ${code} (HTTP ${err.status})`,
        {
          provider,
          status: err.status,
        },
      );
    }
    if (err instanceof oauth.OperationProcessingError && err.code === oauth.JWT_CLAIM_COMPARISON)
      return new ConnectorError(ConnectorErrorCode.InvalidState, `${provider} ID token refused: ${messageOf(err)}`, {
        provider,
      });
    return new ConnectorError(ConnectorErrorCode.ProviderError, `${provider} ${what} failed: ${messageOf(err)}`, {
      provider,
    });
  }
}

function clientAuthFor(provider: ProviderConfig, config: OAuthClientConfig): oauth.ClientAuth {
  if (provider.clientAuth === "none") return oauth.None();
  if (config.clientSecret === undefined)
    throw new ConnectorError(
      ConnectorErrorCode.ProviderError,
      `${provider.id}: ${provider.clientAuth} needs a client secret`,
    );
  return provider.clientAuth === "client_secret_basic"
    ? oauth.ClientSecretBasic(config.clientSecret)
    : oauth.ClientSecretPost(config.clientSecret);
}

/**
 * The quirk of providers that answer token errors with HTTP 200: a 200 whose JSON has an `error` member is
 * given the 400 it means, so oauth4webapi raises it as the OAuth error it is (invalid_grant included).
 */
async function errorStatusRestored(res: Response): Promise<Response> {
  if (res.status !== 200) return res;
  const text = await res.text();
  let status = 200;
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body === "object" && body !== null && typeof (body as { error?: unknown }).error === "string")
      status = 400;
  } catch {
    // Not JSON: oauth4webapi says so itself.
  }
  return new Response(text, { status, headers: res.headers });
}

/** An OAuth error code as the spec shapes them; anything else is not repeated. */
function safeCode(code: string): string {
  return /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(code) ? code : "(unreadable error code)";
}

/** oauth4webapi's messages name what failed, not values; anything else is cut short. */
function messageOf(err: unknown): string {
  return err instanceof Error ? err.message.slice(0, 200) : "unknown error";
}
