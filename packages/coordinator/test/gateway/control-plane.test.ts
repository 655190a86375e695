import { randomBytes } from "node:crypto";
import { createInProcessBus } from "@tessera/bus";
import { Vault, openGatewaySecrets, staticKeyring, parseKeyring } from "@tessera/connectors/storage";
import { startPostgres, type PostgresHandle } from "@tessera/testkit";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createCoordinator, type CoordinatorOptions } from "../../src/create-coordinator.js";
import type { GatewayFeed } from "../../src/gateway/gateway-control.js";
import { startAdminServer, type AdminServer } from "../../src/http/admin-server.js";
import type { Coordinator } from "../../src/types.js";
import type { Message } from "@tessera/contract";
import { silent } from "../harness.js";

const keyLine = `k1:${randomBytes(32).toString("base64")}`;
const VAULT_ENV = { TESSERA_VAULT_KEYS: keyLine };
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

// The answers are read by path and checked against literal expectations: their shape is what the test asserts.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Answer = any;

interface Api {
  coordinator: Coordinator;
  admin: AdminServer;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: Answer }>;
}

async function start(
  database: CoordinatorOptions["database"],
  env: Record<string, string> = VAULT_ENV,
  feed?: GatewayFeed,
): Promise<Api> {
  const bus = createInProcessBus();
  const coordinator = await createCoordinator({
    bus,
    components: [],
    database,
    env,
    logger: silent,
    ...(feed !== undefined ? { gateway: { feed } } : {}),
  });
  const admin = await startAdminServer(coordinator);
  open.push({ close: () => coordinator.close().then(() => bus.close()) }, admin);
  return {
    coordinator,
    admin,
    async call(method, path, body) {
      const res = await fetch(`${admin.url}/api/v1${path}`, {
        method,
        ...(body !== undefined ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}),
      });
      const text = await res.text();
      return { status: res.status, text, json: text === "" ? undefined : JSON.parse(text) };
    },
  };
}

const SLACK = "/gateway/accounts/slack/acme/T123";

describe.each([
  { name: "memory", database: { memory: true } as const },
  { name: "pglite", database: { dataDir: "memory://" } },
])("gateway control plane on the $name store", { timeout: 120_000 }, ({ database }) => {
  it("installs, changes, disables and removes an account; tenants are counted from the accounts", async () => {
    const api = await start(database);
    const put = await api.call("PUT", SLACK, { settings: { appId: "A1" }, rateLimit: { perSecond: 1, burst: 3 } });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({
      id: "slack/acme/T123",
      disabled: false,
      rateLimit: { perSecond: 1, burst: 3 },
      settings: { appId: "A1" },
      webhookPath: "/hooks/slack/acme/T123",
      webhookUrl: null,
      credentials: { names: [], signingSecrets: 0, keyId: null, rotatedAt: null },
    });
    await api.call("PUT", "/gateway/accounts/webhook/acme/hooks-1", {});
    await api.call("PUT", "/gateway/accounts/webhook/other/x", { disabled: true });
    // A partial change keeps the fields it does not name; rateLimit: null goes back to the adapter's default.
    const changed = await api.call("PUT", SLACK, { disabled: true, rateLimit: null });
    expect(changed.json).toMatchObject({ disabled: true, rateLimit: null, settings: { appId: "A1" } });
    expect((await api.call("GET", "/gateway/tenants")).json.items).toEqual([
      { tenant: "acme", accounts: 2, disabled: 1, channelTypes: ["slack", "webhook"] },
      { tenant: "other", accounts: 1, disabled: 1, channelTypes: ["webhook"] },
    ]);
    const acme = await api.call("GET", "/gateway/accounts?tenant=acme");
    expect(acme.json.items.map((a: { id: string }) => a.id)).toEqual(["slack/acme/T123", "webhook/acme/hooks-1"]);

    // The public URL is a setting: every account's webhook URL follows it.
    expect((await api.call("PUT", "/settings/gateway.publicUrl", { value: "https://hooks.example.com/" })).status).toBe(
      200,
    );
    expect((await api.call("GET", SLACK)).json.webhookUrl).toBe("https://hooks.example.com/hooks/slack/acme/T123");

    expect((await api.call("DELETE", SLACK)).json).toEqual({ deleted: true });
    expect((await api.call("GET", SLACK)).status).toBe(404);
    expect((await api.call("DELETE", SLACK)).status).toBe(404);
    const audit = await api.coordinator.audit.list();
    expect(audit.items.map((e) => `${e.action} ${e.target}`)).toContain("gateway.account.delete slack/acme/T123");
  });

  it("seals credentials: answers metadata only, the sealed box opens with the vault key, rotation keeps the previous secret", async () => {
    const api = await start(database);
    await api.call("PUT", SLACK, {});
    const set = await api.call("POST", `${SLACK}/credentials`, {
      signingSecrets: ["first-signing-secret"],
      credentials: { botToken: "xoxb-very-secret" },
    });
    expect(set.status).toBe(200);
    expect(set.json.credentials).toMatchObject({ names: ["botToken"], signingSecrets: 1, keyId: "k1" });
    expect(set.json.credentials.rotatedAt).toEqual(expect.any(String));
    const rotated = await api.call("POST", `${SLACK}/credentials`, {
      signingSecrets: ["second-signing-secret"],
      keepPrevious: true,
    });
    expect(rotated.json.credentials).toMatchObject({ names: ["botToken"], signingSecrets: 2 });
    // No answer of the control plane carries a secret.
    for (const path of [SLACK, "/gateway/accounts", `${SLACK}/sealed`, "/gateway/tenants"]) {
      const text = (await api.call("GET", path)).text;
      for (const secret of ["first-signing-secret", "second-signing-secret", "xoxb-very-secret"])
        expect(text).not.toContain(secret);
    }
    const sealed = (await api.call("GET", `${SLACK}/sealed`)).json;
    const vault = await Vault.create(staticKeyring(parseKeyring(keyLine)));
    const box = { keyId: sealed.keyId, box: new Uint8Array(Buffer.from(sealed.box, "base64")) };
    expect(openGatewaySecrets(vault, "slack/acme/T123", box)).toEqual({
      signingSecrets: ["second-signing-secret", "first-signing-secret"],
      credentials: { botToken: "xoxb-very-secret" },
    });
    // Bound to its account: the same box does not open as another account's.
    expect(() => openGatewaySecrets(vault, "slack/acme/T999", box)).toThrow(/does not open/);
  });

  it("refuses bad input with a 4xx naming the field, and credentials without a vault key with 409", async () => {
    const api = await start(database);
    const badParam = await api.call("PUT", "/gateway/accounts/Slack!/acme/T1", {});
    expect(badParam.status).toBe(400);
    expect(badParam.text).toContain("channelType");
    const badLimit = await api.call("PUT", SLACK, { rateLimit: { perSecond: -1, burst: 1 } });
    expect(badLimit.status).toBe(400);
    expect(badLimit.json.error.issues[0].path).toBe("body.rateLimit.perSecond");
    const unknownField = await api.call("PUT", SLACK, { secret: "x" });
    expect(unknownField.status).toBe(400);
    expect(unknownField.text).toContain("secret");
    const emptyRotation = await api.call("POST", `${SLACK}/credentials`, {});
    expect(emptyRotation.status).toBe(400);
    expect((await api.call("POST", `${SLACK}/credentials`, { signingSecrets: ["s"] })).status).toBe(404);
    expect((await api.call("GET", `${SLACK}/sealed`)).status).toBe(404);

    const noVault = await start(database, {});
    await noVault.call("PUT", SLACK, {});
    const refused = await noVault.call("POST", `${SLACK}/credentials`, { signingSecrets: ["s"] });
    expect(refused.status).toBe(409);
    expect(refused.json.error.message).toContain("vault key");
  });
});

describe("gateway tail and health", () => {
  it("streams the feed's messages as server-sent events, filtered by tenant; health reports the feed's streams", async () => {
    const listeners = new Set<(m: Message) => void>();
    const feed: GatewayFeed = {
      mode: "in-process",
      onMessage: (l) => (listeners.add(l), () => void listeners.delete(l)),
      streams: async () => [
        {
          name: "TESSERA_GW_INBOUND",
          present: true,
          messages: 2,
          bytes: 10,
          firstSeq: 1,
          lastSeq: 2,
          lastAt: null,
          consumers: 1,
          duplicateWindowMs: 1000,
        },
      ],
    };
    const api = await start({ memory: true }, {}, feed);
    expect((await api.call("GET", "/gateway/health")).json).toMatchObject({
      mode: "in-process",
      error: null,
      streams: [{ messages: 2 }],
    });
    const abort = new AbortController();
    const res = await fetch(`${api.admin.url}/api/v1/gateway/tail?tenant=acme`, { signal: abort.signal });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    await reader.read(); // ": subscribed"
    expect(listeners.size).toBe(1);
    for (const listener of listeners) {
      listener({ id: "m-other", scope: { tenant: "other" }, channel_type: "sample" } as Message);
      listener({ id: "m-acme", scope: { tenant: "acme" }, channel_type: "sample" } as Message);
    }
    const { value } = await reader.read();
    const text = new TextDecoder().decode(value);
    expect(text).toContain("event: message");
    expect(text).toContain('"m-acme"');
    expect(text).not.toContain("m-other");
    abort.abort();
    await expect.poll(() => listeners.size).toBe(0);
  });
});

describe("gateway accounts on two coordinator replicas (one Postgres)", { timeout: 120_000 }, () => {
  let pg: PostgresHandle | undefined;
  afterAll(async () => pg?.stop());

  it("a change made through one replica is what the other serves, and its sealed credentials open there too", async () => {
    pg = await startPostgres();
    const url = await pg.createDatabase();
    const a = await start({ url });
    const b = await start({ url });
    await a.call("PUT", SLACK, { rateLimit: { perSecond: 2, burst: 4 } });
    await a.call("POST", `${SLACK}/credentials`, { signingSecrets: ["s1"], credentials: { botToken: "t" } });
    await b.call("PUT", SLACK, { disabled: true });
    const [fromA, fromB] = await Promise.all([a.call("GET", SLACK), b.call("GET", SLACK)]);
    expect(fromA.json).toEqual(fromB.json);
    expect(fromB.json).toMatchObject({
      disabled: true,
      rateLimit: { perSecond: 2, burst: 4 },
      credentials: { signingSecrets: 1 },
    });
    expect((await b.call("GET", `${SLACK}/sealed`)).json).toEqual((await a.call("GET", `${SLACK}/sealed`)).json);
    const key = { channelType: "slack", tenant: "acme", account: "T123" };
    const resolved = await b.coordinator.gateway.resolve(key);
    expect(resolved?.secrets).toEqual({ signingSecrets: ["s1"], credentials: { botToken: "t" } });

    // Rotations racing on both replicas, each keeping the previous secrets: none is lost to another.
    await Promise.all(
      ["s2", "s3", "s4", "s5"].map((secret, i) =>
        (i % 2 === 0 ? a : b).coordinator.gateway.rotate(key, { signingSecrets: [secret], keepPrevious: true }),
      ),
    );
    const after = await a.coordinator.gateway.resolve(key);
    expect([...after!.secrets.signingSecrets].sort()).toEqual(["s1", "s2", "s3", "s4", "s5"]);
    expect(after!.view.credentials.signingSecrets).toBe(5);
  });
});
