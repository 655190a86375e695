import { describe, expect, it, onTestFinished } from "vitest";
import { connect, type mockProviderConfig } from "./support/harness.js";
import { codeOf, useOAuthWorld } from "./support/oauth-world.js";

const world = useOAuthWorld();

const fixture = (extra: Parameters<typeof mockProviderConfig>[2] = {}) => world.connector({ extra });

describe("authorization code with PKCE against a real authorization server", () => {
  it("connects: S256 challenge, state and nonce sent, verifier and nonce checked, no token in the answer", async () => {
    const f = await fixture();
    const { redirectUrl, state } = await f.connector.beginOAuth("alice");
    const url = new URL(redirectUrl);
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get("state")).toBe(state);
    expect(url.searchParams.get("nonce")).toMatch(/.{20,}/);
    expect(url.searchParams.get("scope")).toBe("openid tasks:read");

    const callback = await world.auth.authorize(redirectUrl);
    const credential = await f.connector.finishOAuth(callback.get("code")!, callback.get("state")!);
    expect(credential).toMatchObject({ provider: "mock", userId: "alice", state: "connected", lastError: null });
    expect(credential.expiresAt).not.toBeNull();
    const shown = JSON.stringify(credential);
    for (const token of world.auth.issued) expect(shown).not.toContain(token);
  });

  it("takes a state once: a second callback with it is refused", async () => {
    const f = await fixture();
    const { redirectUrl } = await f.connector.beginOAuth("bob");
    const callback = await world.auth.authorize(redirectUrl);
    await f.connector.finishOAuth(callback.get("code")!, callback.get("state")!);
    expect(await codeOf(f.connector.finishOAuth(callback.get("code")!, callback.get("state")!))).toBe("invalid_state");
  });

  it("refuses an unknown state and an expired one", async () => {
    const f = await fixture();
    expect(await codeOf(f.connector.finishOAuth("code", "not-a-state-we-made"))).toBe("invalid_state");
    const { redirectUrl } = await f.connector.beginOAuth("carol");
    const callback = await world.auth.authorize(redirectUrl);
    f.clock.advance(11 * 60_000);
    expect(await codeOf(f.connector.finishOAuth(callback.get("code")!, callback.get("state")!))).toBe("invalid_state");
    // Expired and taken: gone from the store either way.
    expect(await f.store.prunePending(f.clock.now())).toBe(0);
  });

  it("refuses an ID token whose nonce is not the one sent", async () => {
    const f = await fixture();
    const { redirectUrl } = await f.connector.beginOAuth("dave");
    const callback = await world.auth.authorize(redirectUrl);
    // Only the ID token carries the nonce (the access token is signed first, without one).
    const swapNonce = (token: { payload: Record<string, unknown> }) => {
      if ("nonce" in token.payload) token.payload["nonce"] = "someone-elses-nonce";
    };
    world.auth.service.on("beforeTokenSigning", swapNonce);
    onTestFinished(() => void world.auth.service.off("beforeTokenSigning", swapNonce));
    expect(await codeOf(f.connector.finishOAuth(callback.get("code")!, callback.get("state")!))).toBe("invalid_state");
    expect(await f.connector.connection("dave")).toBeUndefined();
  });

  it("refuses a code redeemed with another flow's verifier (PKCE checked by the server)", async () => {
    const f = await fixture();
    const first = await f.connector.beginOAuth("erin");
    const second = await f.connector.beginOAuth("erin");
    const callback = await world.auth.authorize(first.redirectUrl);
    // The code of the first flow with the second flow's state: the second verifier does not match.
    expect(await codeOf(f.connector.finishOAuth(callback.get("code")!, second.state))).not.toBe("resolved");
    expect(await f.connector.connection("erin")).toBeUndefined();
  });

  it("reports a denied authorization with its code", async () => {
    const f = await fixture();
    const { state } = await f.connector.beginOAuth("frank");
    const err = f.connector.finishCallback(new URLSearchParams({ error: "access_denied", state }));
    expect(await codeOf(err)).toBe("authorization_denied");
  });

  it("revokes at the provider (RFC 7009) and wipes the local credentials", async () => {
    const f = await fixture();
    await connect(f, world.auth, "grace");
    const revokedBefore = world.auth.revoked.length;
    const outcome = await f.connector.revoke("grace");
    expect(outcome).toEqual({ existed: true, providerRevoked: true });
    expect(world.auth.revoked.slice(revokedBefore)).toEqual(["refresh_token", "access_token"]);
    expect(await f.connector.connection("grace")).toBeUndefined();
    expect(await f.store.countByKey()).toEqual({});
    expect(await f.connector.revoke("grace")).toEqual({ existed: false, providerRevoked: false });
  });

  it("wipes the local credentials even when the provider's revocation fails", async () => {
    const f = await fixture();
    await connect(f, world.auth, "heidi");
    world.proxy.always({ kind: "status", status: 500 });
    const outcome = await f.connector.revoke("heidi");
    expect(outcome).toMatchObject({ existed: true, providerRevoked: false, providerError: "provider_unavailable" });
    expect(await f.connector.connection("heidi")).toBeUndefined();
  });
});
