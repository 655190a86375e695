import { createInProcessBus } from "@tessera/bus";
import type { AdminServer, Coordinator } from "@tessera/coordinator";
import { createEgress, type Egress } from "@tessera/egress";
import { OAuthTestServer } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startConnectorsCoordinator } from "./helpers/connectors-coordinator.js";
import { runTessera, startTessera } from "./helpers/run-tessera.js";

/*
 * `tessera gateway install <account> --oauth <connector>` against a coordinator with connectors (memory store)
 * and a real authorization server: it prints the consent URL, waits while the user consents, and ends once
 * the callback installed the account; --no-wait prints and returns; a refused install exits with the field.
 */

let auth: OAuthTestServer;
let egress: Egress;
let coordinator: Coordinator;
let admin: AdminServer;
const bus = createInProcessBus();

beforeAll(async () => {
  auth = await OAuthTestServer.start();
  egress = createEgress({ allow: { cidrs: ["127.0.0.1/32"] } });
  ({ coordinator, admin } = await startConnectorsCoordinator(bus, auth, egress));
}, 60_000);

afterAll(async () => {
  await admin?.close();
  await coordinator?.close();
  await egress?.close();
  await bus.close();
  await auth?.stop();
});

const env = () => ({ TESSERA_URL: admin.url });
const urlIn = (text: string) => text.split("\n").find((l) => l.startsWith(`${auth.issuer}/authorize?`));

describe("tessera gateway install --oauth", () => {
  it("prints the URL, waits for the consent, and ends with the account installed; settings are applied after", async () => {
    const running = startTessera(
      ["gateway", "install", "slack/acme/T7", "--oauth", "mock", "--setting", "appId=A7", "--poll-ms", "50"],
      { env: env() },
    );
    let url: string | undefined;
    for (let i = 0; i < 200 && url === undefined; i++) {
      url = urlIn(running.stdout());
      if (url === undefined) await new Promise((r) => setTimeout(r, 25));
    }
    expect(running.stdout()).toContain("open this URL to install slack/acme/T7 through mock:");
    const callback = await auth.authorize(url!);
    expect((await fetch(`${admin.url}/oauth/callback?${callback}`)).status).toBe(200);
    const result = await running.result;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("installed through mock: slack/acme/T7; webhook /hooks/slack/acme/T7");

    const listed = await runTessera(["gateway", "accounts", "--json"], { env: env() });
    expect(JSON.parse(listed.stdout).items).toEqual([
      expect.objectContaining({
        id: "slack/acme/T7",
        settings: { appId: "A7" },
        credentials: expect.objectContaining({
          connection: expect.objectContaining({ id: "mock:gateway:slack/acme/T7" }),
        }),
      }),
    ]);
    const table = await runTessera(["gateway", "accounts"], { env: env() });
    expect(table.stdout).toContain("botToken from mock:gateway:slack/acme/T7");
    // No token in anything the CLI printed.
    for (const token of auth.issued)
      expect(result.stdout + result.stderr + listed.stdout + table.stdout).not.toContain(token);
  });

  it("--no-wait prints the URL and returns; --json answers the begin; an unknown connector exits 2 naming the field", async () => {
    const noWait = await runTessera(["gateway", "install", "slack/acme/T8", "--oauth", "mock", "--no-wait"], {
      env: env(),
    });
    expect(noWait.code).toBe(0);
    expect(urlIn(noWait.stdout)).toBeDefined();
    const json = await runTessera(["gateway", "install", "slack/acme/T8", "--oauth", "mock", "--no-wait", "--json"], {
      env: env(),
    });
    expect(JSON.parse(json.stdout)).toMatchObject({
      account: "slack/acme/T8",
      connection: "mock:gateway:slack/acme/T8",
    });
    // Nothing is installed before a callback.
    expect((await runTessera(["gateway", "accounts", "--json"], { env: env() })).stdout).not.toContain("T8");

    const unknown = await runTessera(["gateway", "install", "slack/acme/T8", "--oauth", "nope"], { env: env() });
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringContaining("connector")]);
    const timedOut = await runTessera(
      ["gateway", "install", "slack/acme/T9", "--oauth", "mock", "--timeout", "1", "--poll-ms", "100"],
      { env: env() },
    );
    expect([timedOut.code, timedOut.stderr]).toEqual([1, expect.stringContaining("was not installed within 1 s")]);
  });
});
