import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { createInProcessBus } from "@tessera/bus";
import { Vault, parseKeyring, staticKeyring } from "@tessera/connectors";
import { openGatewaySecrets } from "@tessera/connectors/storage";
import {
  GatewayControl,
  SqlConnectionStore,
  SqlGatewayAccountStore,
  createCoordinator,
  openSqlClient,
} from "@tessera/coordinator";
import { startPostgres, type PostgresHandle } from "@tessera/testkit";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTessera } from "./helpers/run-tessera.js";
import { tempFiles } from "./helpers/temp-files.js";

const entry = (id: string) => `${id}:${randomBytes(32).toString("base64")}`;
const k1 = entry("k1");
const k2 = entry("k2");
let postgres: PostgresHandle;
let url: string;

beforeAll(async () => {
  postgres = await startPostgres();
  url = await postgres.createDatabase();
  // A coordinator of this version migrates the database (the CLI never does).
  const coordinator = await createCoordinator({
    bus: createInProcessBus(),
    components: [],
    database: { url },
    env: {},
    logger: pino({ level: "silent" }),
  });
  await coordinator.close();
  const sql = await openSqlClient({ databaseUrl: url });
  const store = new SqlConnectionStore(sql);
  const vault = await Vault.create(staticKeyring(parseKeyring(k1)));
  for (let i = 0; i < 30; i++) {
    const key = { provider: "todoist", userId: `u${i}` };
    await store.withLock(key, (l) =>
      l.write({
        state: "connected",
        scopes: [],
        expiresAt: null,
        refreshedAt: null,
        lastError: null,
        sealed: vault.sealJson(
          { accessToken: `token-${i}`, tokenType: "bearer" },
          { purpose: "credential", subject: `todoist/u${i}` },
        ),
      }),
    );
  }
  // Gateway accounts' credentials are boxes of the same vault: the rotation walks them too.
  const accounts = new SqlGatewayAccountStore(sql);
  const control = new GatewayControl({ store: accounts, vault, publicUrl: () => null });
  for (let i = 0; i < 4; i++) {
    const account = { channelType: "slack", tenant: "acme", account: `T${i}` };
    await accounts.put(account, {});
    await control.rotate(account, { signingSecrets: [`signing-${i}`], credentials: { botToken: `xoxb-${i}` } });
  }
  await sql.close();
}, 120_000);
afterAll(async () => {
  await postgres?.stop();
});

async function keyFile(...entries: string[]): Promise<string> {
  return join(await tempFiles({ keys: `${entries.join("\n")}\n` }), "keys");
}

describe("tessera vault", () => {
  it("rotate-key reseals every box under the key file's first key; status shows it; no key is printed", async () => {
    const file = await keyFile(k2, k1);
    const env = { DATABASE_URL: url, TESSERA_VAULT_KEY_FILE: file };
    const before = await runTessera(["vault", "status", "--json"], { env });
    expect(before.code).toBe(0);
    expect(JSON.parse(before.stdout)).toEqual({
      currentKeyId: "k2",
      keyIds: ["k2", "k1"],
      boxesByKey: { k1: 30 },
      gatewayBoxesByKey: { k1: 4 },
    });

    const rotated = await runTessera(["vault", "rotate-key", "--batch-size", "8"], { env });
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toContain("resealed 30 box(es) under k2");
    expect(rotated.stdout).toContain("sealed boxes by key: k2: 30");
    expect(rotated.stdout).toContain("resealed 4 gateway account box(es) under k2");
    expect(rotated.stdout).toContain("gateway account credentials by key: k2: 4");
    expect(rotated.stderr.trim().split("\n")).toEqual([
      "resealed 8",
      "resealed 16",
      "resealed 24",
      "resealed 30",
      "resealed 4 gateway account box(es)",
    ]);
    for (const out of [before.stdout, rotated.stdout, rotated.stderr]) {
      expect(out).not.toContain(k1.split(":")[1]);
      expect(out).not.toContain(k2.split(":")[1]);
    }
    // The old key can go: a vault holding k2 alone opens every credential.
    const sql = await openSqlClient({ databaseUrl: url });
    try {
      const row = await new SqlConnectionStore(sql).get({ provider: "todoist", userId: "u29" });
      const k2Only = await Vault.create(staticKeyring(parseKeyring(k2)));
      expect(k2Only.open(row!.sealed!, { purpose: "credential", subject: "todoist/u29" })).toContain("token-29");
      const account = await new SqlGatewayAccountStore(sql).get({
        channelType: "slack",
        tenant: "acme",
        account: "T3",
      });
      expect(openGatewaySecrets(k2Only, "slack/acme/T3", account!.sealed!)).toEqual({
        signingSecrets: ["signing-3"],
        credentials: { botToken: "xoxb-3" },
      });
    } finally {
      await sql.close();
    }
    const again = await runTessera(["vault", "rotate-key"], { env });
    expect(again.stdout).toContain("resealed 0 box(es)");
    expect(again.stdout).toContain("resealed 0 gateway account box(es)");
  });

  it("refuses to start when a key still sealing boxes is missing from the key file", async () => {
    const file = await keyFile(entry("k3"));
    const result = await runTessera(["vault", "rotate-key"], {
      env: { DATABASE_URL: url, TESSERA_VAULT_KEY_FILE: file },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("key(s) the key file does not hold: k2");
  });

  it("needs a database and keys (usage errors), and prints new key entries", async () => {
    expect((await runTessera(["vault", "status"], { env: { TESSERA_VAULT_KEYS: k1 } })).code).toBe(2);
    expect((await runTessera(["vault", "status"], { env: { DATABASE_URL: url } })).code).toBe(2);
    const created = await runTessera(["vault", "new-key", "2027-01"]);
    expect(created.code).toBe(0);
    expect(parseKeyring(created.stdout).currentKeyId).toBe("2027-01");
    expect((await runTessera(["vault", "new-key", "no spaces"])).code).toBe(2);
  });
});
