import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConnectorError } from "../src/index.js";
import { FaultProxy, OAuthTestServer } from "@tessera/testkit";
import { connect, mockConnector, mockProviderConfig, type ConnectorFixture } from "./support/harness.js";
import { ResourceServer, collect } from "./support/resource-server.js";

let auth: OAuthTestServer;
let proxy: FaultProxy;
let api: ResourceServer;
const fixtures: ConnectorFixture[] = [];

beforeAll(async () => {
  auth = await OAuthTestServer.start();
  proxy = await FaultProxy.start(auth.issuer);
  api = await ResourceServer.start(auth);
});
afterAll(async () => {
  await api.stop();
  await proxy.stop();
  await auth.stop();
});
afterEach(async () => {
  proxy.clear();
  await Promise.all(fixtures.splice(0).map((f) => f.egress.close()));
});

/** A connected user whose token has expired, on a connector whose breaker opens after 3 failures for 10 s. */
async function expired(userId: string) {
  const f = await mockConnector(mockProviderConfig(auth, proxy.origin), {
    api: api.api(),
    overrides: { breaker: { failureThreshold: 3, openMs: 10_000 }, retry: { attempts: 4, baseMs: 200, capMs: 5_000 } },
  });
  fixtures.push(f);
  await connect(f, auth, userId);
  f.clock.advance(3600_000);
  return f;
}

async function failure(promise: Promise<unknown>): Promise<ConnectorError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ConnectorError)) throw new Error(`expected a ConnectorError, got ${String(err)}`);
  return err;
}

describe("5xx and network errors: retried with jittered backoff behind a per-provider breaker", () => {
  it("retries 5xx and a reset connection, then succeeds; each wait within its jitter ceiling", async () => {
    const f = await expired("alice");
    proxy.inject({ kind: "status", status: 502 }, { kind: "reset" });
    const before = proxy.received;
    expect(await collect(f.connector.fetchSignals("alice", "0"))).toHaveLength(3);
    expect(proxy.received - before).toBe(3);
    expect(f.clock.waits).toHaveLength(2);
    expect(f.clock.waits[0]).toBeLessThan(200);
    expect(f.clock.waits[1]).toBeLessThan(400);
    expect(f.connector.http.breaker.current).toBe("closed");
  });

  it("waits out a Retry-After before the retry", async () => {
    const f = await expired("bob");
    proxy.inject({ kind: "status", status: 503, retryAfter: "3" });
    expect(await collect(f.connector.fetchSignals("bob", "0"))).toHaveLength(3);
    expect(f.clock.waits).toEqual([3_000]);
  });

  it("does not sleep through a Retry-After longer than it may wait: fails with it for the caller", async () => {
    const f = await expired("carol");
    proxy.inject({ kind: "status", status: 503, retryAfter: "120" });
    const err = await failure(collect(f.connector.fetchSignals("carol", "0")));
    expect(err.code).toBe("provider_unavailable");
    expect(err.details.retryAfterMs).toBe(120_000);
    expect(f.clock.waits).toEqual([]);
    // The provider said when to come back: nothing is sent before then.
    const before = proxy.received;
    expect((await failure(collect(f.connector.fetchSignals("carol", "0")))).code).toBe("provider_unavailable");
    expect(proxy.received).toBe(before);
  });

  it("opens after repeated failures (calls then fail fast), half-opens after the period, closes on a good trial", async () => {
    const f = await expired("dave");
    proxy.always({ kind: "status", status: 500 });
    const first = await failure(collect(f.connector.fetchSignals("dave", "0")));
    expect(first.code).toBe("provider_unavailable");
    expect(proxy.received).toBeGreaterThanOrEqual(3);
    expect(f.connector.http.breaker.current).toBe("open");
    // The connection is untouched by a provider outage: still connected, the error noted.
    expect(await f.connector.connection("dave")).toMatchObject({ state: "connected" });
    expect((await f.connector.connection("dave"))!.lastError).toMatch(/^provider_unavailable/);

    const sent = proxy.received;
    const fast = await failure(collect(f.connector.fetchSignals("dave", "0")));
    expect(fast.code).toBe("provider_unavailable");
    expect(fast.details.retryAfterMs).toBeGreaterThan(0);
    expect(proxy.received).toBe(sent);

    proxy.clear();
    f.clock.advance(10_000);
    expect(f.connector.http.breaker.current).toBe("half_open");
    expect(await collect(f.connector.fetchSignals("dave", "0"))).toHaveLength(3);
    expect(f.connector.http.breaker.current).toBe("closed");
    expect((await f.connector.connection("dave"))!.lastError).toBeNull();
  });

  it("a network failure of a refresh leaves the connection connected (only invalid_grant ends it)", async () => {
    const f = await expired("erin");
    proxy.always({ kind: "reset" });
    expect((await failure(collect(f.connector.fetchSignals("erin", "0")))).code).toBe("provider_unavailable");
    expect((await f.connector.connection("erin"))!.state).toBe("connected");
  });
});
