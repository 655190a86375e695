import type { ProviderHttp, ProviderRequest } from "./http/provider-http.js";
import type {
  ActionResult,
  ConnectorAction,
  NormalizedEvent,
  OAuthClientConfig,
  ProviderConfig,
  TokenSet,
} from "./schemas.js";

/** A provider's API as a connector calls it, on behalf of one connected user. */
export interface ApiContext {
  readonly userId: string;
  /**
   * A request to the provider's API with the user's access token: refreshed first when it is about to expire,
   * and once more (then the request repeated) when the provider answers 401.
   */
  fetch(url: string, request?: ProviderRequest): Promise<Response>;
}

/** Events of one page of a provider's changes, and the cursor that resumes after them. */
export interface SignalPage {
  events: Omit<NormalizedEvent, "provider" | "userId" | "cursor">[];
  cursor: string;
}

/** What a provider's own revocation call gets: its HTTP (egress, breaker) and this platform's client config. */
export interface RevokeContext {
  readonly http: ProviderHttp;
  readonly client: OAuthClientConfig;
}

/** The API-specific part of a provider: code, where `ProviderConfig` is data. */
export interface ProviderApi {
  /** Pages of changes after `cursor` (undefined: everything, a full sync). */
  sync(ctx: ApiContext, cursor: string | undefined): AsyncIterable<SignalPage>;
  act?(ctx: ApiContext, action: ConnectorAction): Promise<ActionResult>;
  /** The provider's own revocation, for providers without an RFC 7009 endpoint. */
  revokeToken?(ctx: RevokeContext, tokens: TokenSet): Promise<void>;
}

/** One provider: its authorization server (data, checked against the schema) and, optionally, its API. */
export interface ProviderDefinition {
  config: ProviderConfig;
  api?: ProviderApi;
}
