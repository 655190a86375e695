import { afterAll, afterEach, beforeAll } from "vitest";
import { FaultProxy, OAuthTestServer } from "@tessera/testkit";
import { ConnectorError, type ConnectorOptions } from "../../src/index.js";
import { mockConnector, mockProviderConfig, type ConnectorFixture } from "./harness.js";
import { ResourceServer } from "./resource-server.js";

/** What a connector test file talks to: started once for the file, stopped after it. */
export interface OAuthWorld {
  readonly auth: OAuthTestServer;
  /** In front of the token and revocation endpoints, so a test can inject faults. */
  readonly proxy: FaultProxy;
  /** The provider API the mock provider's connectors read (only with `resourceServer`). */
  readonly api: ResourceServer;
  /** A connector for the mock provider, its token calls through the proxy; closed after the test. */
  connector(options?: {
    extra?: Parameters<typeof mockProviderConfig>[2];
    overrides?: Partial<ConnectorOptions>;
  }): Promise<ConnectorFixture>;
}

/** Registers the file's hooks: the servers for the file, faults cleared and connectors closed after each test. */
export function useOAuthWorld({ resourceServer = false } = {}): OAuthWorld {
  let auth: OAuthTestServer | undefined;
  let proxy: FaultProxy | undefined;
  let api: ResourceServer | undefined;
  const fixtures: ConnectorFixture[] = [];
  const started = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`the OAuth world's ${name} is not started (use it inside a test)`);
    return value;
  };
  beforeAll(async () => {
    auth = await OAuthTestServer.start();
    proxy = await FaultProxy.start(auth.issuer);
    if (resourceServer) api = await ResourceServer.start(auth);
  });
  afterAll(async () => {
    await api?.stop();
    await proxy?.stop();
    await auth?.stop();
  });
  afterEach(async () => {
    proxy?.clear();
    await Promise.all(fixtures.splice(0).map((f) => f.egress.close()));
  });
  const world: OAuthWorld = {
    get auth() {
      return started(auth, "authorization server");
    },
    get proxy() {
      return started(proxy, "proxy");
    },
    get api() {
      return started(api, "resource server (useOAuthWorld({ resourceServer: true }))");
    },
    async connector({ extra = {}, overrides } = {}) {
      const f = await mockConnector(mockProviderConfig(world.auth, world.proxy.origin, extra), {
        ...(api !== undefined ? { api: api.api() } : {}),
        ...(overrides !== undefined ? { overrides } : {}),
      });
      fixtures.push(f);
      return f;
    },
  };
  return world;
}

/** The ConnectorError code a call ended with, "resolved" when it did not fail. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => "resolved",
    (e: unknown) => (e instanceof ConnectorError ? e.code : String(e)),
  );
}
