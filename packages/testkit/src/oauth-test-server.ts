import { createServer, type IncomingMessage, type Server } from "node:http";
import { OAuth2Issuer, OAuth2Service } from "oauth2-mock-server";

interface Grant {
  family: number;
  /** When a refresh replaced it; it stays good for `graceMs` after that. */
  rotatedAt?: number;
}

/**
 * A real OAuth 2.0 / OIDC authorization server on 127.0.0.1 (oauth2-mock-server: authorize redirects at once
 * with a code, the token endpoint checks the PKCE verifier against the challenge and puts the nonce in the ID
 * token) under a refresh-token policy written here, as a provider's would be: every refresh rotates the
 * refresh token; the old one stays good for `graceMs` (0: reuse is refused), and a refused one is answered
 * `invalid_grant` (with HTTP 200 when `errorsWith200`, the quirk). Revoking a token ends its grant.
 */
export class OAuthTestServer {
  readonly issuerKeys = new OAuth2Issuer();
  readonly service = new OAuth2Service(this.issuerKeys);
  private server: Server | undefined;
  private readonly grants = new Map<string, Grant>();
  private readonly accessTokens = new Map<string, number>();
  private readonly deadFamilies = new Set<number>();
  private families = 0;
  graceMs = 0;
  expiresIn = 3600;
  errorsWith200 = false;
  /** Token requests that reached the server, by grant type. */
  readonly requests: Record<string, number> = {};
  readonly revoked: string[] = [];
  /** Every token this server issued, for the no-plaintext checks. */
  readonly issued: string[] = [];

  static async start(): Promise<OAuthTestServer> {
    const auth = new OAuthTestServer();
    await auth.issuerKeys.keys.generate("RS256");
    // Revocation is answered here: the mock's revocation route reads only JSON, and RFC 7009 posts a form.
    const handler = auth.service.requestHandler;
    auth.server = createServer((req, res) => {
      if (req.method !== "POST" || req.url !== "/revoke") return void handler(req, res);
      void formOf(req).then((body) => {
        auth.onRevoke(body);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => auth.server!.listen(0, "127.0.0.1", resolve));
    const address = auth.server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    auth.issuerKeys.url = `http://127.0.0.1:${address.port}`;
    auth.service.on("beforeResponse", (response: MutableResponse, req: { body: Record<string, string> }) =>
      auth.onToken(response, req.body),
    );
    return auth;
  }

  get issuer(): string {
    return this.issuerKeys.url!;
  }

  /**
   * This server as a provider's configuration for @tessera/connectors (its ProviderConfig, as plain data):
   * OpenID Connect with PKCE and RFC 7009 revocation; token and revocation requests go to `tokenOrigin`
   * (a FaultProxy in front of this server) when given.
   */
  providerConfig(id = "mock", tokenOrigin = this.issuer) {
    return {
      id,
      issuer: this.issuer,
      authorizationEndpoint: `${this.issuer}/authorize`,
      tokenEndpoint: `${tokenOrigin}/token`,
      revocationEndpoint: `${tokenOrigin}/revoke`,
      scopes: ["openid", "tasks:read"],
      clientAuth: "client_secret_basic" as const,
      oidc: true,
    };
  }

  /** Whether an access token is one this server issued and its grant still stands (the resource server asks). */
  accessTokenLive(token: string): boolean {
    const family = this.accessTokens.get(token);
    return family !== undefined && !this.deadFamilies.has(family);
  }

  /** Ends every grant: the next refresh of any of them is `invalid_grant`. */
  revokeAllGrants(): void {
    for (let f = 1; f <= this.families; f++) this.deadFamilies.add(f);
  }

  /** Follows the authorization URL as a browser would; returns the callback query (code, state, ...). */
  async authorize(redirectUrl: string): Promise<URLSearchParams> {
    const res = await fetch(redirectUrl, { redirect: "manual" });
    const location = res.headers.get("location");
    if (res.status !== 302 || location === null) throw new Error(`authorize answered ${res.status}`);
    return new URL(location).searchParams;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server?.closeAllConnections();
      this.server?.close(() => resolve());
    });
  }

  private onToken(response: MutableResponse, body: Record<string, string>): void {
    const grantType = body["grant_type"] ?? "?";
    this.requests[grantType] = (this.requests[grantType] ?? 0) + 1;
    if (response.statusCode !== 200) return;
    let family: number;
    if (grantType === "refresh_token") {
      const grant = this.grants.get(body["refresh_token"] ?? "");
      const now = Date.now();
      const dead =
        grant === undefined ||
        this.deadFamilies.has(grant.family) ||
        (grant.rotatedAt !== undefined && (this.graceMs === 0 || now - grant.rotatedAt > this.graceMs));
      if (dead) {
        response.statusCode = this.errorsWith200 ? 200 : 400;
        response.body = { error: "invalid_grant", error_description: "refresh token is not active" };
        return;
      }
      grant.rotatedAt ??= now;
      family = grant.family;
    } else {
      family = ++this.families;
    }
    const refresh = String(response.body["refresh_token"]);
    const access = String(response.body["access_token"]);
    this.grants.set(refresh, { family });
    this.accessTokens.set(access, family);
    this.issued.push(refresh, access);
    if (typeof response.body["id_token"] === "string") this.issued.push(response.body["id_token"]);
    response.body["expires_in"] = this.expiresIn;
  }

  private onRevoke(body: Record<string, string>): void {
    const token = body["token"] ?? "";
    this.revoked.push(body["token_type_hint"] ?? "?");
    const family = this.grants.get(token)?.family ?? this.accessTokens.get(token);
    if (family !== undefined) this.deadFamilies.add(family);
  }
}

interface MutableResponse {
  body: Record<string, unknown>;
  statusCode: number;
}

async function formOf(req: IncomingMessage): Promise<Record<string, string>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString("utf8")));
}
