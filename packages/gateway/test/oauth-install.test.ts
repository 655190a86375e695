import { randomBytes } from "node:crypto";
import { createInProcessBus } from "@tessera/bus";
import { AdminClient } from "@tessera/client";
import { Vault, parseKeyring, staticKeyring } from "@tessera/connectors/storage";
import type { SendCommand } from "@tessera/contract";
import { createCoordinator, startAdminServer, type AdminServer } from "@tessera/coordinator";
import { createEgress, type Egress } from "@tessera/egress";
import { OAuthTestServer, startPostgres, type PostgresHandle } from "@tessera/testkit";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { slackOutbound } from "../src/adapters/slack-outbound.js";
import { cachedAccounts, sealedAccountLoader } from "../src/control/vault-accounts.js";
import { FakeSlack } from "./support/fake-slack.js";

/*
 * A gateway account installed through the connectors' OAuth flow, end to end against a real authorization
 * server: two coordinator replicas on one Postgres (begin on one, the callback on the other), the account
 * holding a reference to the connection, the gateway's credential adapter handing Slack's sender the
 * connection's access token — and, after the connection refreshed, the new one, with no reinstall.
 */

const CLIENT = { clientId: "tesseratest", clientSecret: "client-secret-5d1e", redirectUri: "http://127.0.0.1:1/cb" };
const keyLine = `k1:${randomBytes(32).toString("base64")}`;
const ACCOUNT = "/api/v1/gateway/accounts/slack/acme/T9";

let auth: OAuthTestServer;
let postgres: PostgresHandle;
let slack: FakeSlack;
let egress: Egress;
const open: { close(): Promise<unknown> }[] = [];
const answered: string[] = [];

beforeAll(async () => {
  [auth, postgres] = await Promise.all([OAuthTestServer.start(), startPostgres()]);
  // Slack's fake accepts exactly the access tokens the authorization server issued and still honours.
  slack = await new FakeSlack((token) => auth.accessTokenLive(token)).start();
  egress = createEgress({ allow: { cidrs: ["127.0.0.1/32"] }, timeoutMs: 5_000 });
}, 120_000);
afterAll(async () => {
  await egress?.close();
  await slack?.stop();
  await auth?.stop();
  await postgres?.stop();
});
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

/** The connectors' clock, shared by both replicas: moving it makes the connection's token due for refresh. */
const clock = { at: Date.now(), now: () => clock.at, sleep: async (ms: number) => void (clock.at += ms) };

async function replica(url: string): Promise<AdminServer> {
  const bus = createInProcessBus();
  const coordinator = await createCoordinator({
    bus,
    components: [],
    database: { url },
    env: { TESSERA_VAULT_KEYS: keyLine },
    logger: pino({ level: "silent" }),
    connectors: {
      providers: [{ provider: { config: auth.providerConfig("mock") }, client: CLIENT }],
      egress,
      allowInsecureRequests: true,
      now: clock.now,
      sleep: clock.sleep,
    },
  });
  const admin = await startAdminServer(coordinator);
  open.push({ close: () => coordinator.close().then(() => bus.close()) }, admin);
  return admin;
}

async function call(admin: AdminServer, method: string, path: string, body?: unknown) {
  const res = await fetch(new URL(path, admin.url), {
    method,
    headers: { accept: "application/json", ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  answered.push(text);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are read by path and compared to literals
  return { status: res.status, json: (text === "" ? undefined : JSON.parse(text)) as any };
}

function command(): SendCommand {
  return {
    schema_version: 1,
    id: `cmd-${randomBytes(4).toString("hex")}`,
    scope: { tenant: "acme", account: "T9" },
    channel_type: "slack",
    destination: { conversation: "C_OK" },
    text: "hello",
  };
}

describe("installing a gateway account through OAuth (two replicas on Postgres)", { timeout: 120_000 }, () => {
  it("install → consent → callback on the other replica → the sender gets the connection's token, and its refresh", async () => {
    const url = await postgres.createDatabase();
    const a = await replica(url);
    const b = await replica(url);

    const begun = await call(a, "POST", `${ACCOUNT}/install`, { connector: "mock" });
    expect(begun.status).toBe(200);
    expect(begun.json).toMatchObject({ account: "slack/acme/T9", connection: "mock:gateway:slack/acme/T9" });
    expect((await call(b, "GET", ACCOUNT)).status).toBe(404); // nothing is written before the callback
    const callback = await auth.authorize(begun.json.authorizationUrl);
    const finished = await call(b, "GET", `/oauth/callback?${callback}`);
    expect(finished.status).toBe(200);
    expect(finished.json).toMatchObject({
      connection: { id: "mock:gateway:slack/acme/T9", state: "connected" },
      gatewayAccount: "slack/acme/T9",
    });
    // The state is spent: the same redirect again installs nothing twice and says why.
    expect((await call(a, "GET", `/oauth/callback?${callback}`)).json.error.reason).toBe("invalid_state");

    const account = (await call(a, "GET", ACCOUNT)).json;
    expect(account.credentials).toMatchObject({
      names: ["botToken"],
      keyId: null,
      connection: { id: "mock:gateway:slack/acme/T9", credential: "botToken" },
    });

    // The gateway process: accounts from the admin API, opened with its own copy of the vault key.
    const admin = new AdminClient(a.url);
    const vault = await Vault.create(staticKeyring(parseKeyring(keyLine)));
    let now = 0;
    const accounts = cachedAccounts(
      sealedAccountLoader(
        { account: (c, t, x) => admin.gatewayAccount(c, t, x), sealed: (c, t, x) => admin.gatewaySealed(c, t, x) },
        vault,
      ),
      { ttlMs: 5_000, now: () => now },
    );
    const sender = slackOutbound({ apiBase: `${slack.url}/api/` });
    const send = async () => {
      const found = await accounts.get("slack", "acme", "T9");
      const result = await sender.send(command(), { account: found!, egress, signal: new AbortController().signal });
      return { token: found!.credentials!["botToken"]!, result };
    };

    const first = await send();
    expect(auth.accessTokenLive(first.token)).toBe(true);
    expect(first.result.ok).toBe(true);
    expect(slack.calls.at(-1)?.authorization).toBe(`Bearer ${first.token}`);
    expect(auth.requests["refresh_token"] ?? 0).toBe(0);

    // The token nears its expiry: the next read refreshes it (once), and the gateway picks the new one up
    // when its cache entry lapses — no reinstall, no rotation.
    // oauth2-mock-server's tokens are JWTs stamped in whole seconds: a refresh within the same second would
    // issue the same token, and the test could not tell the new one from the old.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    clock.at += 2 * 3600_000;
    now += 6_000;
    const second = await send();
    expect(auth.requests["refresh_token"]).toBe(1);
    expect(second.token).not.toBe(first.token);
    expect(second.result.ok).toBe(true);
    expect(slack.calls.at(-1)?.authorization).toBe(`Bearer ${second.token}`);
    accounts.close();

    // No answer of the control plane carried a token.
    for (const text of answered) for (const token of auth.issued) expect(text).not.toContain(token);
  });

  it("refuses an unknown connector naming the field; a denied consent or a forged state installs nothing", async () => {
    const a = await replica(await postgres.createDatabase());
    const unknown = await call(a, "POST", `${ACCOUNT}/install`, { connector: "nope" });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toContain("connector");
    expect(unknown.json.error.issues).toEqual([expect.objectContaining({ path: "connector" })]);
    expect((await call(a, "POST", `${ACCOUNT}/install`, {})).status).toBe(400);

    const begun = await call(a, "POST", `${ACCOUNT}/install`, { connector: "mock" });
    const state = new URL(begun.json.authorizationUrl).searchParams.get("state")!;
    const forged = await call(a, "GET", `/oauth/callback?code=abc&state=${"x".repeat(43)}`);
    expect(forged.status).toBe(400);
    expect(forged.json.error.reason).toBe("invalid_state");
    const denied = await call(a, "GET", `/oauth/callback?error=access_denied&state=${state}`);
    expect(denied.status).toBe(400);
    expect(denied.json.error.reason).toBe("authorization_denied");
    expect((await call(a, "GET", ACCOUNT)).status).toBe(404);
    expect((await call(a, "GET", "/api/v1/gateway/accounts")).json.items).toEqual([]);
  });
});
