import { createInProcessBus } from "@tessera/bus";
import { createCoordinator, startAdminServer, type AdminServer, type Coordinator } from "@tessera/coordinator";
import { createEgress, type Egress } from "@tessera/egress";
import { OAuthTestServer } from "@tessera/testkit";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startConnectorsCoordinator } from "./helpers/connectors-coordinator.js";
import { runTessera } from "./helpers/run-tessera.js";

/*
 * `tessera connections` against a real coordinator with connectors configured (the memory store) and a real
 * authorization server: connect prints the provider's URL, the user's consent lands on the coordinator's
 * callback, list shows the connection, disconnect revokes it; exit codes as the other commands.
 */

let auth: OAuthTestServer;
let egress: Egress;
let coordinator: Coordinator;
let admin: AdminServer;
let bare: { coordinator: Coordinator; admin: AdminServer };
const bus = createInProcessBus();
// A second coordinator on a bus of its own: two on the memory store may not share one.
const bareBus = createInProcessBus();

beforeAll(async () => {
  auth = await OAuthTestServer.start();
  egress = createEgress({ allow: { cidrs: ["127.0.0.1/32"] } });
  ({ coordinator, admin } = await startConnectorsCoordinator(bus, auth, egress));
  const plain = await createCoordinator({ bus: bareBus, components: [], env: {}, logger: pino({ level: "silent" }) });
  bare = { coordinator: plain, admin: await startAdminServer(plain) };
}, 60_000);

afterAll(async () => {
  await bare?.admin.close();
  await bare?.coordinator.close();
  await admin?.close();
  await coordinator?.close();
  await egress?.close();
  await bus.close();
  await bareBus.close();
  await auth?.stop();
});

const tessera = (...args: string[]) => runTessera(args, { env: { TESSERA_URL: admin.url } });

describe("tessera connections", () => {
  it("connect prints the URL to open; after consent, list shows the connection; disconnect revokes it", async () => {
    const connect = await tessera("connections", "connect", "mock", "--user", "alice");
    expect(connect.code).toBe(0);
    const url = connect.stdout.trim();
    expect(url.startsWith(`${auth.issuer}/authorize?`)).toBe(true);
    expect(connect.stderr).toContain("open the URL above as alice");

    // The user's browser: consent at the provider, then the provider's redirect to the coordinator's callback.
    const callback = await auth.authorize(url);
    const landed = await fetch(`${admin.url}/oauth/callback?${callback}`);
    expect(landed.status).toBe(200);

    const list = await tessera("connections", "list");
    expect(list.code).toBe(0);
    const [head, row] = list.stdout.trim().split("\n");
    expect(head).toMatch(/^ID\s+STATE\s+SCOPES\s+EXPIRES\s+REFRESHED\s+LAST ERROR$/);
    expect(row).toMatch(/^mock:alice\s+connected\s+dummy\s+in \d+m$/);
    expect(list.stderr).toBe("providers: mock\n");

    const json = await tessera("connections", "list", "--json", "--user", "alice");
    expect(JSON.parse(json.stdout)).toMatchObject({
      configured: true,
      items: [{ id: "mock:alice", provider: "mock", userId: "alice", state: "connected", lastError: null }],
    });
    expect(JSON.parse((await tessera("connections", "list", "--json", "--user", "nobody")).stdout).items).toEqual([]);

    const gone = await tessera("connections", "disconnect", "mock:alice");
    expect([gone.code, gone.stdout]).toEqual([
      0,
      "disconnected mock:alice: revoked at the provider; its tokens are wiped here\n",
    ]);
    expect((await tessera("connections", "list")).stdout).toBe("no connections\n");
  });

  it("connect --json answers the begin; exit 4 for an unknown provider or connection, 2 for a malformed id or state", async () => {
    const begun = await tessera("connections", "connect", "mock", "--user", "bob", "--json");
    expect(JSON.parse(begun.stdout)).toMatchObject({ provider: "mock", userId: "bob" });

    const unknown = await tessera("connections", "connect", "github", "--user", "bob");
    expect([unknown.code, unknown.stderr]).toEqual([4, expect.stringContaining("github")]);
    const missing = await tessera("connections", "disconnect", "mock:nobody");
    expect(missing.code).toBe(4);
    const malformed = await tessera("connections", "disconnect", "alice");
    expect([malformed.code, malformed.stderr]).toEqual([2, expect.stringContaining("<provider>:<user>")]);
    expect((await tessera("connections", "list", "--state", "broken")).code).toBe(2);
    expect((await tessera("connections", "connect", "mock")).code).toBe(2);
  });

  it("says so when the coordinator has no connectors; connect there exits 4", async () => {
    const env = { env: { TESSERA_URL: bare.admin.url } };
    const list = await runTessera(["connections", "list"], env);
    expect([list.code, list.stdout]).toEqual([
      0,
      `the coordinator at ${bare.admin.url} has no connectors configured\n`,
    ]);
    const connect = await runTessera(["connections", "connect", "mock", "--user", "a"], env);
    expect([connect.code, connect.stderr]).toEqual([4, expect.stringContaining("no connectors configured")]);
  });
});
