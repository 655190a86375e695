import { createInProcessBus } from "@tessera/bus";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createCoordinator } from "../../src/create-coordinator.js";
import { startAdminServer, type AdminServer, type AdminServerOptions } from "../../src/http/admin-server.js";
import type { DatabaseOption } from "../../src/store/open-storage.js";
import {
  CLIENT,
  KeyFile,
  SharedClock,
  coordinatorWithConnectors,
  keyEntry,
  mockProvider,
  useConnectorServers,
} from "./support.js";

/*
 * The admin API's connection routes and the OAuth callback, against a real authorization server
 * (OAuthTestServer), on the memory store and on Postgres: begin → the provider's consent → the callback →
 * listed, the callback's refusals, disconnect, the audit log, the access guard, and no token in any answer.
 */

const servers = useConnectorServers();

/** Every answer body a test saw, to look for token material in. */
const answered: string[] = [];

interface Answer {
  status: number;
  type: string;
  text: string;
  json: Record<string, unknown>;
}

async function call(
  admin: AdminServer,
  method: string,
  path: string,
  opts: { body?: unknown; token?: string; accept?: string } = {},
): Promise<Answer> {
  const res = await fetch(new URL(path, admin.url), {
    method,
    headers: {
      accept: opts.accept ?? "application/json",
      ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
      ...(opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {}),
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  answered.push(text);
  const type = res.headers.get("content-type") ?? "";
  return { status: res.status, type, text, json: type.includes("json") ? (JSON.parse(text) as never) : {} };
}

const reasonOf = (a: Answer) => (a.json["error"] as { reason?: string } | undefined)?.reason;

async function withConnectors(
  database: DatabaseOption | string,
  adminOptions: AdminServerOptions = {},
): Promise<{ admin: AdminServer; clock: SharedClock }> {
  const keys = await KeyFile.create(keyEntry("k1"));
  servers.keep(keys);
  const clock = new SharedClock();
  const node = await coordinatorWithConnectors(database, mockProvider(servers.auth, servers.auth.issuer), keys, clock);
  servers.keep(node);
  const admin = await startAdminServer(node.coordinator, adminOptions);
  servers.keep(admin);
  return { admin, clock };
}

/** Begins a connection through the API and follows the provider's consent: the callback's query. */
async function consent(admin: AdminServer, userId: string, token?: string): Promise<URLSearchParams> {
  const begun = await call(admin, "POST", "/api/v1/connections", {
    body: { provider: "mock", userId },
    ...(token !== undefined ? { token } : {}),
  });
  expect(begun.status).toBe(200);
  expect(begun.json).toMatchObject({ provider: "mock", userId });
  const redirectUrl = String(begun.json["redirectUrl"]);
  expect(redirectUrl.startsWith(`${servers.auth.issuer}/authorize?`)).toBe(true);
  const callback = await servers.auth.authorize(redirectUrl);
  expect(callback.get("code")).not.toBeNull();
  return callback;
}

const stores: { name: string; database: () => Promise<DatabaseOption | string> }[] = [
  { name: "memory", database: async () => ({ memory: true }) },
  { name: "postgres", database: () => servers.postgres.createDatabase() },
];

describe.each(stores)(
  "connections through the admin API on the $name store",
  ({ database }) => {
    it("begin → consent at the provider → callback → listed; disconnect revokes at the provider", async () => {
      const { admin } = await withConnectors(await database());
      const callback = await consent(admin, "alice");

      const finished = await call(admin, "GET", `/oauth/callback?${callback}`);
      expect(finished.status).toBe(200);
      expect(finished.json["connection"]).toMatchObject({ id: "mock:alice", state: "connected" });

      const list = await call(admin, "GET", "/api/v1/connections");
      expect(list.status).toBe(200);
      expect(list.json).toMatchObject({ configured: true, providers: ["mock"] });
      const [item] = list.json["items"] as Record<string, unknown>[];
      expect(item).toMatchObject({
        id: "mock:alice",
        provider: "mock",
        userId: "alice",
        state: "connected",
        // What the server granted (oauth2-mock-server answers every token request with scope "dummy").
        scopes: ["dummy"],
        refreshedAt: null,
        lastError: null,
        keyId: "k1",
      });
      expect(Date.parse(String(item!["expiresAt"]))).toBeGreaterThan(Date.now());
      expect(await call(admin, "GET", "/api/v1/connections?state=needs_reauth")).toMatchObject({
        json: { items: [] },
      });
      expect((await call(admin, "GET", "/api/v1/connections/mock/alice")).json).toEqual(item);

      const revokedBefore = servers.auth.revoked.length;
      const gone = await call(admin, "DELETE", "/api/v1/connections/mock/alice");
      expect(gone.status).toBe(200);
      expect(gone.json).toEqual({ provider: "mock", userId: "alice", providerRevoked: true, providerError: null });
      expect(servers.auth.revoked.length).toBeGreaterThan(revokedBefore);
      expect((await call(admin, "GET", "/api/v1/connections")).json["items"]).toEqual([]);
      const again = await call(admin, "DELETE", "/api/v1/connections/mock/alice");
      expect([again.status, reasonOf(again)]).toEqual([404, undefined]);
      expect((await call(admin, "GET", "/api/v1/connections/mock/alice")).status).toBe(404);
    });

    it("the callback refuses a replayed, unknown or missing state and a provider's error with a 400 naming it", async () => {
      const { admin } = await withConnectors(await database());
      const callback = await consent(admin, "bob");
      expect((await call(admin, "GET", `/oauth/callback?${callback}`)).status).toBe(200);

      const replayed = await call(admin, "GET", `/oauth/callback?${callback}`);
      expect([replayed.status, reasonOf(replayed)]).toEqual([400, "invalid_state"]);
      expect(String((replayed.json["error"] as { message: string }).message)).toMatch(/already used state/);

      const unknown = await call(admin, "GET", "/oauth/callback?code=abc&state=never-issued");
      expect([unknown.status, reasonOf(unknown)]).toEqual([400, "invalid_state"]);
      const head = await fetch(`${admin.url}/oauth/callback?${callback}`, { method: "HEAD" });
      expect([head.status, head.headers.get("allow")]).toEqual([405, "GET"]);
      const missing = await call(admin, "GET", "/oauth/callback?code=abc");
      expect([missing.status, reasonOf(missing)]).toEqual([400, "invalid_state"]);
      expect(String((missing.json["error"] as { message: string }).message)).toMatch(/no state/);

      // The provider sends the user back with an error (they denied access) and the state of a real begin.
      const begun = await consent(admin, "carol");
      const denied = await call(
        admin,
        "GET",
        `/oauth/callback?error=access_denied&error_description=${encodeURIComponent("<b>nope</b>")}&state=${begun.get("state")!}`,
      );
      expect([denied.status, reasonOf(denied)]).toEqual([400, "authorization_denied"]);
      expect(denied.text).toContain("access_denied");
      expect(denied.text).not.toContain("<b>");

      // A browser gets a page saying the same; never a 5xx.
      const page = await call(admin, "GET", `/oauth/callback?${callback}`, { accept: "text/html,*/*;q=0.8" });
      expect(page.status).toBe(400);
      expect(page.type).toMatch(/^text\/html/);
      expect(page.text).toContain("This connection link is not valid any more");
      expect(page.text).toContain("already used state");

      // None of these made a connection.
      const users = ((await call(admin, "GET", "/api/v1/connections")).json["items"] as { userId: string }[]).map(
        (c) => c.userId,
      );
      expect(users).toEqual(["bob"]);
    });
  },
  60_000,
);

describe("connections: errors, the access guard, the audit log and what answers hold", () => {
  it("answers 404 connectors_not_configured on a coordinator without connectors; the list says configured: false", async () => {
    const bus = createInProcessBus();
    const coordinator = await createCoordinator({ bus, components: [], env: {}, logger: pino({ level: "silent" }) });
    const admin = await startAdminServer(coordinator);
    servers.keep({ close: () => bus.close() }, coordinator, admin);
    expect((await call(admin, "GET", "/api/v1/connections")).json).toEqual({
      configured: false,
      providers: [],
      items: [],
    });
    for (const [method, path, body] of [
      ["GET", "/api/v1/connections/mock/alice", undefined],
      ["DELETE", "/api/v1/connections/mock/alice", undefined],
      ["POST", "/api/v1/connections", { provider: "mock", userId: "alice" }],
      ["GET", "/oauth/callback?code=a&state=b", undefined],
    ] as const) {
      const answer = await call(admin, method, path, body !== undefined ? { body } : {});
      expect([method, path, answer.status, reasonOf(answer)]).toEqual([method, path, 404, "connectors_not_configured"]);
    }
    const page = await call(admin, "GET", "/oauth/callback?code=a&state=b", { accept: "text/html" });
    expect([page.status, page.text.includes("Connections are not configured here")]).toEqual([404, true]);
  });

  it("names a bad provider or user, and an unknown provider, with 400 and 404", async () => {
    const { admin } = await withConnectors({ memory: true });
    const bad = await call(admin, "POST", "/api/v1/connections", { body: { provider: "Not OK", userId: "" } });
    expect(bad.status).toBe(400);
    const paths = (bad.json["error"] as { issues: { path: string }[] }).issues.map((i) => i.path).sort();
    expect(paths).toEqual(["body.provider", "body.userId"]);
    const unknown = await call(admin, "POST", "/api/v1/connections", { body: { provider: "github", userId: "a" } });
    expect([unknown.status, reasonOf(unknown)]).toEqual([404, "unknown_provider"]);
    const badState = await call(admin, "GET", "/api/v1/connections?state=broken");
    expect(badState.status).toBe(400);
  });

  it("begin and disconnect need the admin token when one is set; the callback does not (the state is its check); all audited", async () => {
    const token = "connections-admin-token-0123456789";
    const { admin } = await withConnectors({ memory: true }, { adminToken: token });
    const refused = await call(admin, "POST", "/api/v1/connections", { body: { provider: "mock", userId: "dave" } });
    expect(refused.status).toBe(401);
    const callback = await consent(admin, "dave", token);
    expect((await call(admin, "GET", `/oauth/callback?${callback}`)).status).toBe(200);
    expect((await call(admin, "GET", `/oauth/callback?${callback}`)).status).toBe(400);
    expect((await call(admin, "DELETE", "/api/v1/connections/mock/dave")).status).toBe(401);
    expect((await call(admin, "DELETE", "/api/v1/connections/mock/dave", { token })).status).toBe(200);

    const audit = (await call(admin, "GET", "/api/v1/audit?limit=50")).json["items"] as {
      action: string;
      target: string;
      outcome: string;
      status: number;
      actor: { token: boolean };
    }[];
    const seen = audit.map((e) => [e.action, e.target, e.outcome, e.status, e.actor.token]).reverse();
    expect(seen).toEqual([
      ["connection.begin", "mock:dave", "refused", 401, false],
      ["connection.begin", "mock:dave", "ok", 200, true],
      ["connection.finish", "mock:dave", "ok", 200, false],
      ["connection.finish", "", "failed", 400, false],
      ["connection.disconnect", "mock:dave", "refused", 401, false],
      ["connection.disconnect", "mock:dave", "ok", 200, true],
    ]);
  });

  it("a flood of bad callbacks is written to the audit log a few at a time, like refusals", async () => {
    const { admin } = await withConnectors({ memory: true });
    for (let i = 0; i < 20; i++) {
      const answer = await call(admin, "GET", `/oauth/callback?code=x&state=guess-${i}`);
      expect(answer.status).toBe(400);
    }
    const audit = (await call(admin, "GET", "/api/v1/audit?limit=50")).json["items"] as { action: string }[];
    expect(audit.filter((e) => e.action === "connection.finish")).toHaveLength(5);
  });

  it("no answer of this file held a token the authorization server issued, or the client secret", () => {
    expect(servers.auth.issued.length).toBeGreaterThan(4);
    const text = answered.join("\n");
    expect(answered.length).toBeGreaterThan(30);
    for (const secret of [...servers.auth.issued, CLIENT.clientSecret]) expect(text.includes(secret)).toBe(false);
  });
});
