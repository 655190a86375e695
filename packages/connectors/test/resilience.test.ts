import { describe, expect, it } from "vitest";
import { ConnectorError } from "../src/index.js";
import { connect } from "./support/harness.js";
import { useOAuthWorld } from "./support/oauth-world.js";
import { collect } from "./support/resource-server.js";

const world = useOAuthWorld({ resourceServer: true });

/** A connected user whose token has expired, on a connector whose breaker opens after 3 failures for 10 s. */
async function expired(userId: string) {
  const f = await world.connector({
    overrides: { breaker: { failureThreshold: 3, openMs: 10_000 }, retry: { attempts: 4, baseMs: 200, capMs: 5_000 } },
  });
  await connect(f, world.auth, userId);
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
    world.proxy.inject({ kind: "status", status: 502 }, { kind: "reset" });
    const before = world.proxy.received;
    expect(await collect(f.connector.fetchSignals("alice", "0"))).toHaveLength(3);
    expect(world.proxy.received - before).toBe(3);
    expect(f.clock.waits).toHaveLength(2);
    expect(f.clock.waits[0]).toBeLessThan(200);
    expect(f.clock.waits[1]).toBeLessThan(400);
    expect(f.connector.http.breaker.current).toBe("closed");
  });

  it("waits out a Retry-After before the retry", async () => {
    const f = await expired("bob");
    world.proxy.inject({ kind: "status", status: 503, retryAfter: "3" });
    expect(await collect(f.connector.fetchSignals("bob", "0"))).toHaveLength(3);
    expect(f.clock.waits).toEqual([3_000]);
  });

  it("does not sleep through a Retry-After longer than it may wait: fails with it for the caller", async () => {
    const f = await expired("carol");
    world.proxy.inject({ kind: "status", status: 503, retryAfter: "120" });
    const err = await failure(collect(f.connector.fetchSignals("carol", "0")));
    expect(err.code).toBe("provider_unavailable");
    expect(err.details.retryAfterMs).toBe(120_000);
    expect(f.clock.waits).toEqual([]);
    // The provider said when to come back: nothing is sent before then.
    const before = world.proxy.received;
    expect((await failure(collect(f.connector.fetchSignals("carol", "0")))).code).toBe("provider_unavailable");
    expect(world.proxy.received).toBe(before);
  });

  it("opens after repeated failures (calls then fail fast), half-opens after the period, closes on a good trial", async () => {
    const f = await expired("dave");
    world.proxy.always({ kind: "status", status: 500 });
    const first = await failure(collect(f.connector.fetchSignals("dave", "0")));
    expect(first.code).toBe("provider_unavailable");
    expect(world.proxy.received).toBeGreaterThanOrEqual(3);
    expect(f.connector.http.breaker.current).toBe("open");
    // The connection is untouched by a provider outage: still connected, the error noted.
    expect(await f.connector.connection("dave")).toMatchObject({ state: "connected" });
    expect((await f.connector.connection("dave"))!.lastError).toMatch(/^provider_unavailable/);

    const sent = world.proxy.received;
    const fast = await failure(collect(f.connector.fetchSignals("dave", "0")));
    expect(fast.code).toBe("provider_unavailable");
    expect(fast.details.retryAfterMs).toBeGreaterThan(0);
    expect(world.proxy.received).toBe(sent);

    world.proxy.clear();
    f.clock.advance(10_000);
    expect(f.connector.http.breaker.current).toBe("half_open");
    expect(await collect(f.connector.fetchSignals("dave", "0"))).toHaveLength(3);
    expect(f.connector.http.breaker.current).toBe("closed");
    expect((await f.connector.connection("dave"))!.lastError).toBeNull();
  });

  it("a network failure of a refresh leaves the connection connected (only invalid_grant ends it)", async () => {
    const f = await expired("erin");
    world.proxy.always({ kind: "reset" });
    expect((await failure(collect(f.connector.fetchSignals("erin", "0")))).code).toBe("provider_unavailable");
    expect((await f.connector.connection("erin"))!.state).toBe("connected");
  });
});
