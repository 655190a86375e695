import { randomBytes } from "node:crypto";
import { Vault, openGatewaySecrets, parseKeyring, staticKeyring } from "@tessera/connectors/storage";
import { describe, expect, it } from "vitest";
import { MemoryGatewayAccountStore, type GatewayAccountStore } from "../../src/gateway/account-store.js";
import { GatewayControl } from "../../src/gateway/gateway-control.js";
import { rotateGatewayCredentials } from "../../src/gateway/rotate-gateway-key.js";
import { SqlGatewayAccountStore } from "../../src/gateway/sql-account-store.js";
import { migrate } from "../../src/sql/migrate.js";
import { MIGRATIONS } from "../../src/store/migrations.js";
import { sqlBackends } from "../sql-backends.js";

const k1 = `k1:${randomBytes(32).toString("base64")}`;
const k2 = `k2:${randomBytes(32).toString("base64")}`;
const vaultOf = (...entries: string[]) => Vault.create(staticKeyring(parseKeyring(entries.join("\n"))));
const key = (i: number) => ({ channelType: "slack", tenant: "acme", account: `T${i}` });
const controlOf = (store: GatewayAccountStore, vault: Vault) =>
  new GatewayControl({ store, vault, publicUrl: () => null });

const backends: { name: string; open(): Promise<GatewayAccountStore> }[] = [
  { name: "memory", open: async () => new MemoryGatewayAccountStore() },
  ...sqlBackends().map((b) => ({
    name: b.name,
    async open() {
      const client = await b.open();
      await migrate(client, MIGRATIONS);
      return new SqlGatewayAccountStore(client);
    },
  })),
];

describe.each(backends)("vault key rotation of gateway credentials on $name", { timeout: 120_000 }, (backend) => {
  it("reseals every account's box under the new key, a batch at a time; boxless accounts are left alone", async () => {
    const store = await backend.open();
    const old = controlOf(store, await vaultOf(k1));
    for (let i = 0; i < 7; i++) {
      await store.put(key(i), {});
      await old.rotate(key(i), { signingSecrets: [`sign-${i}`], credentials: { botToken: `xoxb-${i}` } });
    }
    await store.put(key(99), {});
    const vault = await vaultOf(k2, k1);
    const progress: number[] = [];
    const report = await rotateGatewayCredentials(store, vault, { batchSize: 3, onProgress: (n) => progress.push(n) });
    expect(report).toEqual({ keyId: "k2", resealed: 7, raced: 0, byKey: { k2: 7 } });
    expect(progress).toEqual([3, 6, 7]);
    const k2Only = await vaultOf(k2);
    for (let i = 0; i < 7; i++) {
      const row = (await store.get(key(i)))!;
      expect(row.sealed?.keyId).toBe("k2");
      expect(openGatewaySecrets(k2Only, `slack/acme/T${i}`, row.sealed!)).toEqual({
        signingSecrets: [`sign-${i}`],
        credentials: { botToken: `xoxb-${i}` },
      });
    }
    expect((await store.get(key(99)))!.sealed).toBeNull();
    // Nothing left to do: a second run moves nothing.
    expect(await rotateGatewayCredentials(store, vault)).toMatchObject({ resealed: 0, byKey: { k2: 7 } });
  });

  it("a credential rotation racing the reseal is kept, and its box ends under the new key", async () => {
    const store = await backend.open();
    await store.put(key(1), {});
    await controlOf(store, await vaultOf(k1)).rotate(key(1), { signingSecrets: ["old"], credentials: {} });
    const vault = await vaultOf(k2, k1);
    const control = controlOf(store, vault);
    let raced = false;
    // Between the rotation's read and its write, an operator rotates the account's credentials.
    const racing: GatewayAccountStore = Object.assign(Object.create(store) as GatewayAccountStore, {
      replaceSealed: async (...args: Parameters<GatewayAccountStore["replaceSealed"]>) => {
        if (!raced) {
          raced = true;
          await control.rotate(key(1), { signingSecrets: ["new"], keepPrevious: true });
        }
        return store.replaceSealed(...args);
      },
    });
    const report = await rotateGatewayCredentials(racing, vault);
    expect(report).toMatchObject({ keyId: "k2", raced: 1, byKey: { k2: 1 } });
    const row = (await store.get(key(1)))!;
    expect(openGatewaySecrets(await vaultOf(k2), "slack/acme/T1", row.sealed!).signingSecrets).toEqual(["new", "old"]);
  });
});
