import { randomBytes } from "node:crypto";
import { createEgress, type Egress } from "@tessera/egress";
import {
  MemoryConnectionStore,
  OAuthConnector,
  Vault,
  parseKeyring,
  staticKeyring,
  type ConnectionStore,
  type ConnectorLogger,
  type ConnectorOptions,
  type ProviderApi,
  type ProviderConfig,
} from "../../src/index.js";
import type { OAuthTestServer } from "@tessera/testkit";

/** The egress policy of every test: loopback test servers, allowed explicitly, and nothing else. */
export const LOOPBACK_ONLY = { cidrs: ["127.0.0.1/32"] };

export function testEgress(): Egress {
  return createEgress({ allow: LOOPBACK_ONLY, timeoutMs: 5_000 });
}

export function keyEntry(id: string): string {
  return `${id}:${randomBytes(32).toString("base64")}`;
}

export async function testVault(...entries: string[]): Promise<Vault> {
  return Vault.create(staticKeyring(parseKeyring((entries.length > 0 ? entries : [keyEntry("k1")]).join("\n"))));
}

/** A generic OIDC provider on the test authorization server, its token endpoint behind `tokenOrigin` (a proxy). */
export function mockProviderConfig(auth: OAuthTestServer, tokenOrigin: string, extra: Partial<ProviderConfig> = {}) {
  return {
    id: "mock",
    issuer: auth.issuer,
    authorizationEndpoint: `${auth.issuer}/authorize`,
    tokenEndpoint: `${tokenOrigin}/token`,
    revocationEndpoint: `${tokenOrigin}/revoke`,
    scopes: ["openid", "tasks:read"],
    clientAuth: "client_secret_basic",
    oidc: true,
    ...extra,
  } satisfies ProviderConfig;
}

export const TEST_CLIENT = {
  // Letters only: oauth4webapi form-encodes client_secret_basic credentials as RFC 6749 says (a "-" becomes
  // %2D), and the mock server does not decode them.
  clientId: "tesseratest",
  clientSecret: "test-client-secret-7f3a9c",
  redirectUri: "http://127.0.0.1:1/oauth/callback",
};

/** A log that keeps every line as JSON, for the checks that no token is ever logged. */
export function recordingLog(): ConnectorLogger & { lines: string[] } {
  const lines: string[] = [];
  const write = (obj: Record<string, unknown>, msg: string) => void lines.push(JSON.stringify({ ...obj, msg }));
  return { lines, info: write, warn: write };
}

/** A clock the test moves; a backoff wait is recorded and moves it instead of waiting. */
export class TestClock {
  at = Date.now();
  readonly waits: number[] = [];
  now = () => this.at;
  sleep = async (ms: number) => {
    this.waits.push(ms);
    this.at += ms;
  };
  advance(ms: number): void {
    this.at += ms;
  }
}

export interface ConnectorFixture {
  connector: OAuthConnector;
  store: ConnectionStore;
  vault: Vault;
  egress: Egress;
  clock: TestClock;
  log: ReturnType<typeof recordingLog>;
}

export async function mockConnector(
  config: ProviderConfig,
  options: {
    api?: ProviderApi;
    store?: ConnectionStore;
    vault?: Vault;
    clock?: TestClock;
    overrides?: Partial<ConnectorOptions>;
  } = {},
): Promise<ConnectorFixture> {
  const clock = options.clock ?? new TestClock();
  const store = options.store ?? new MemoryConnectionStore(clock.now);
  const vault = options.vault ?? (await testVault());
  const egress = testEgress();
  const log = recordingLog();
  const connector = new OAuthConnector({
    provider: { config, ...(options.api !== undefined ? { api: options.api } : {}) },
    client: TEST_CLIENT,
    store,
    vault,
    egress,
    allowInsecureRequests: true,
    now: clock.now,
    sleep: clock.sleep,
    log,
    ...options.overrides,
  });
  return { connector, store, vault, egress, clock, log };
}

/** Runs the whole authorization: begin, the browser's trip to the server, the callback. */
export async function connect(fixture: ConnectorFixture, auth: OAuthTestServer, userId: string) {
  const { redirectUrl } = await fixture.connector.beginOAuth(userId);
  const callback = await auth.authorize(redirectUrl);
  return fixture.connector.finishOAuth(callback.get("code")!, callback.get("state")!);
}
