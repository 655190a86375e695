import { beforeEach, describe, expect, it } from "vitest";
import { connect, type mockProviderConfig } from "./support/harness.js";
import { codeOf, useOAuthWorld } from "./support/oauth-world.js";
import { collect } from "./support/resource-server.js";

const world = useOAuthWorld({ resourceServer: true });

beforeEach(() => {
  world.auth.graceMs = 0;
  world.auth.errorsWith200 = false;
  world.auth.expiresIn = 3600;
});

async function connected(userId: string, extra: Parameters<typeof mockProviderConfig>[2] = {}) {
  const f = await world.connector({ extra });
  await connect(f, world.auth, userId);
  return f;
}

const refreshes = () => world.auth.requests["refresh_token"] ?? 0;

describe("refresh", () => {
  it("refreshes a token about to expire before using it, and not before", async () => {
    const f = await connected("alice");
    const before = refreshes();
    expect(await collect(f.connector.fetchSignals("alice"))).toHaveLength(3);
    expect(refreshes()).toBe(before);

    f.clock.advance(3600_000 - 30_000); // within the 60 s skew
    await collect(f.connector.fetchSignals("alice", "0"));
    expect(refreshes()).toBe(before + 1);
    const credential = await f.connector.connection("alice");
    expect(credential).toMatchObject({ state: "connected", lastError: null });
    expect(Date.parse(credential!.refreshedAt!)).toBe(f.clock.at);
  });

  it("stores the rotated refresh token: the next refresh uses it, the old one is dead", async () => {
    const f = await connected("bob");
    const before = refreshes();
    for (let i = 1; i <= 3; i++) {
      f.clock.advance(3600_000);
      await collect(f.connector.fetchSignals("bob", "0"));
      expect(refreshes()).toBe(before + i);
    }
    // Each refresh presented the newest refresh token: a stale one would have been invalid_grant.
    expect((await f.connector.connection("bob"))!.state).toBe("connected");
  });

  it("refreshes once when the provider answers 401 to a token that looked good, then repeats the call", async () => {
    const f = await connected("carol");
    const before = refreshes();
    world.auth.revokeAllGrants();
    // The access token is dead at the provider and so is the grant: one refresh, invalid_grant, needs_reauth.
    expect(await codeOf(collect(f.connector.fetchSignals("carol")))).toBe("needs_reauth");
    expect(refreshes()).toBe(before + 1);
  });

  it("shares one refresh among 20 concurrent callers", async () => {
    const f = await connected("dave");
    f.clock.advance(3600_000);
    const before = refreshes();
    const results = await Promise.all(Array.from({ length: 20 }, () => collect(f.connector.fetchSignals("dave", "0"))));
    expect(results.every((events) => events.length === 3)).toBe(true);
    expect(refreshes()).toBe(before + 1);
  });

  it("invalid_grant: the connection becomes needs_reauth, its tokens wiped, until a new consent", async () => {
    const f = await connected("erin");
    world.auth.revokeAllGrants();
    f.clock.advance(3600_000);
    expect(await codeOf(collect(f.connector.fetchSignals("erin", "0")))).toBe("needs_reauth");
    const credential = await f.connector.connection("erin");
    expect(credential).toMatchObject({ state: "needs_reauth", lastError: "invalid_grant", keyId: null });
    const before = refreshes();
    expect(await codeOf(collect(f.connector.fetchSignals("erin", "0")))).toBe("needs_reauth");
    expect(refreshes()).toBe(before); // nothing left to try
    await connect(f, world.auth, "erin");
    expect(await collect(f.connector.fetchSignals("erin", "0"))).toHaveLength(3);
  });

  it("reads an error answered with HTTP 200 (a provider quirk) as the error it is", async () => {
    const f = await connected("frank", { quirks: { errorsWithStatus200: true } });
    world.auth.errorsWith200 = true;
    world.auth.revokeAllGrants();
    f.clock.advance(3600_000);
    expect(await codeOf(collect(f.connector.fetchSignals("frank", "0")))).toBe("needs_reauth");
    expect((await f.connector.connection("frank"))!.lastError).toBe("invalid_grant");
  });

  it("without the quirk declared, the same answer is a provider error, not a silent success", async () => {
    const f = await connected("gina");
    world.auth.errorsWith200 = true;
    world.auth.revokeAllGrants();
    f.clock.advance(3600_000);
    expect(await codeOf(collect(f.connector.fetchSignals("gina", "0")))).toBe("provider_error");
    expect((await f.connector.connection("gina"))!.state).toBe("connected");
  });
});

describe("a refresh response lost in transit", () => {
  it("is retried with the same refresh token, which the provider honours within its reuse grace", async () => {
    const f = await connected("hank");
    world.auth.graceMs = 60_000;
    f.clock.advance(3600_000);
    const before = refreshes();
    world.proxy.inject({ kind: "lose_response" });
    expect(await collect(f.connector.fetchSignals("hank", "0"))).toHaveLength(3);
    expect(refreshes()).toBe(before + 2); // the lost one and the retry
    expect((await f.connector.connection("hank"))!.state).toBe("connected");
    // The token the retry got is the one stored, and it rotates on as usual.
    f.clock.advance(3600_000);
    await collect(f.connector.fetchSignals("hank", "0"));
    expect((await f.connector.connection("hank"))!.state).toBe("connected");
  });

  it("becomes needs_reauth when the provider refuses any reuse of a rotated refresh token", async () => {
    const f = await connected("iris");
    f.clock.advance(3600_000);
    world.proxy.inject({ kind: "lose_response" });
    expect(await codeOf(collect(f.connector.fetchSignals("iris", "0")))).toBe("needs_reauth");
    expect((await f.connector.connection("iris"))!.state).toBe("needs_reauth");
  });
});
