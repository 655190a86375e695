import { randomBytes } from "node:crypto";
import { createInProcessBus } from "@tessera/bus";
import { Vault, openGatewaySecrets, parseKeyring, staticKeyring } from "@tessera/connectors/storage";
import { createEgress } from "@tessera/egress";
import { OAuthTestServer } from "@tessera/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createCoordinator, type CoordinatorOptions } from "../../src/create-coordinator.js";
import { startAdminServer, type AdminServer } from "../../src/http/admin-server.js";
import type { Coordinator } from "../../src/types.js";
import { silent } from "../harness.js";

/*
 * An OAuth install on one coordinator, on the memory store and PGlite (two replicas on Postgres, with the
 * gateway's sender, are packages/gateway/test/oauth-install.test.ts): the callback writes the account, an
 * existing account keeps what it had, and a connection gone leaves the account verifying webhooks without
 * the token.
 */

const CLIENT = { clientId: "tesseratest", clientSecret: "client-secret-5d1e", redirectUri: "http://127.0.0.1:1/cb" };
const keyLine = `k1:${randomBytes(32).toString("base64")}`;
const KEY = { channelType: "slack", tenant: "acme", account: "T1" };
const ACCOUNT = "/api/v1/gateway/accounts/slack/acme/T1";

let auth: OAuthTestServer;
const egress = createEgress({ allow: { cidrs: ["127.0.0.1/32"] } });
const open: { close(): Promise<unknown> }[] = [];
beforeAll(async () => {
  auth = await OAuthTestServer.start();
});
afterAll(async () => {
  await auth?.stop();
  await egress.close();
});
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

async function start(
  database: CoordinatorOptions["database"],
): Promise<{ coordinator: Coordinator; admin: AdminServer }> {
  const bus = createInProcessBus();
  const coordinator = await createCoordinator({
    bus,
    components: [],
    database,
    env: { TESSERA_VAULT_KEYS: keyLine },
    logger: silent,
    connectors: {
      providers: [{ provider: { config: auth.providerConfig("mock") }, client: CLIENT }],
      egress,
      allowInsecureRequests: true,
    },
  });
  const admin = await startAdminServer(coordinator);
  open.push({ close: () => coordinator.close().then(() => bus.close()) }, admin);
  return { coordinator, admin };
}

// Answers are read by path and compared to literals: their shape is what the test asserts.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Answer = any;

async function call(admin: AdminServer, method: string, path: string, body?: unknown, accept = "application/json") {
  const res = await fetch(new URL(path, admin.url), {
    method,
    headers: { accept, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    text,
    json: (res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : undefined) as Answer,
  };
}

describe.each([
  { name: "memory", database: { memory: true } as const },
  { name: "pglite", database: { dataDir: "memory://" } },
])("OAuth install of a gateway account on the $name store", { timeout: 120_000 }, ({ database }) => {
  it("an existing account keeps its settings and signing secret and gains the connection's token; a connection gone leaves the secret", async () => {
    const { coordinator, admin } = await start(database);
    await call(admin, "PUT", ACCOUNT, { settings: { appId: "A1" } });
    await call(admin, "POST", `${ACCOUNT}/credentials`, { signingSecrets: ["slack-signing"] });

    const begun = await call(admin, "POST", `${ACCOUNT}/install`, { connector: "mock" });
    expect(begun.status).toBe(200);
    const callback = await auth.authorize(begun.json.authorizationUrl);
    // The user's browser gets a page saying which account was installed.
    const page = await call(admin, "GET", `/oauth/callback?${callback}`, undefined, "text/html");
    expect(page.status).toBe(200);
    expect(page.text).toContain("slack/acme/T1 is installed through mock");

    const view = (await call(admin, "GET", ACCOUNT)).json;
    expect(view).toMatchObject({
      settings: { appId: "A1" },
      credentials: {
        names: ["botToken"],
        signingSecrets: 1,
        keyId: "k1",
        connection: { id: "mock:gateway:slack/acme/T1", credential: "botToken" },
      },
    });
    expect(Date.parse(view.credentials.connection.installedAt)).toBeGreaterThanOrEqual(
      Date.parse(begun.json.startedAt),
    );

    // The sealed route seals the account's own secrets with the connection's current token, for the gateway.
    const vault = await Vault.create(staticKeyring(parseKeyring(keyLine)));
    const sealed = (await call(admin, "GET", `${ACCOUNT}/sealed`)).json;
    const opened = openGatewaySecrets(vault, "slack/acme/T1", {
      keyId: sealed.keyId,
      box: new Uint8Array(Buffer.from(sealed.box, "base64")),
    });
    expect(opened.signingSecrets).toEqual(["slack-signing"]);
    expect(auth.accessTokenLive(opened.credentials["botToken"]!)).toBe(true);
    // `tessera dev`'s in-process gateway reads the same.
    expect((await coordinator.gateway.resolve(KEY))?.secrets).toEqual(opened);

    // Disconnecting the connection (its id names the account) takes the token away, not the webhooks.
    const gone = await call(admin, "DELETE", `/api/v1/connections/mock/${encodeURIComponent("gateway:slack/acme/T1")}`);
    expect(gone.status).toBe(200);
    expect((await coordinator.gateway.resolve(KEY))?.secrets).toEqual({
      signingSecrets: ["slack-signing"],
      credentials: {},
    });
  });
});
