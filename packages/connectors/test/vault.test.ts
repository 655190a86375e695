import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import {
  ConnectorError,
  MemoryConnectionStore,
  Vault,
  generateKeyEntry,
  keyFileSource,
  keyringSourceFromEnv,
  parseKeyring,
  rotateVaultKey,
} from "../src/index.js";
import { keyEntry, testVault } from "./support/harness.js";

const ctx = { purpose: "credential", subject: "todoist/alice" } as const;

function vaultError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConnectorError && err.code === "vault_error") return err.message;
    throw err;
  }
  throw new Error("expected a vault error");
}

describe("vault", () => {
  it("seals under the current key id and opens it again; the box does not hold the plaintext", async () => {
    const vault = await testVault(keyEntry("k2"), keyEntry("k1"));
    const sealed = vault.seal("secret-access-token", ctx);
    expect(sealed.keyId).toBe("k2");
    expect(sealed.box[0]).toBe(1);
    expect(sealed.box.length).toBe(1 + 24 + "secret-access-token".length + 16);
    expect(Buffer.from(sealed.box).toString("latin1")).not.toContain("secret");
    expect(vault.open(sealed, ctx)).toBe("secret-access-token");
    // Random nonces: the same plaintext never seals to the same box.
    expect(Buffer.from(vault.seal("secret-access-token", ctx).box).equals(Buffer.from(sealed.box))).toBe(false);
  });

  it("does not open a box moved to another row, a tampered box, or one under a key it lacks", async () => {
    const vault = await testVault();
    const sealed = vault.seal("token", ctx);
    expect(vaultError(() => vault.open(sealed, { ...ctx, subject: "todoist/mallory" }))).toMatch(/does not open/);
    expect(vaultError(() => vault.open(sealed, { ...ctx, purpose: "pending_authorization" }))).toMatch(/does not open/);
    const tampered = new Uint8Array(sealed.box);
    tampered[30]! ^= 1;
    expect(vaultError(() => vault.open({ ...sealed, box: tampered }, ctx))).toMatch(/tampered/);
    const other = await testVault(keyEntry("k9"));
    expect(vaultError(() => other.open(sealed, ctx))).toMatch(/sealed under vault key k1, which .* does not hold/);
    // Same id, other bytes: refused, not garbage.
    const impostor = await testVault(keyEntry("k1"));
    expect(vaultError(() => impostor.open(sealed, ctx))).toMatch(/does not open/);
  });

  it("parses key entries, and its errors and printed forms never show key bytes", async () => {
    const entry = await generateKeyEntry("2026-12");
    const key = entry.split(":")[1]!;
    const keyring = parseKeyring(`# comment\n${entry}\n${keyEntry("old")}`);
    expect(keyring.currentKeyId).toBe("2026-12");
    expect(keyring.keyIds).toEqual(["2026-12", "old"]);
    for (const shown of [inspect(keyring), JSON.stringify(keyring), String(keyring)]) expect(shown).not.toContain(key);
    const short = `k:${Buffer.alloc(16, 7).toString("base64")}`;
    const message = vaultError(() => parseKeyring(short));
    expect(message).toMatch(/expected 32 bytes, got 16/);
    expect(message).not.toContain(short.slice(2));
    expect(vaultError(() => parseKeyring(""))).toMatch(/no key/);
    expect(vaultError(() => parseKeyring(`${keyEntry("a")},${keyEntry("a")}`))).toMatch(/twice/);
    expect(vaultError(() => parseKeyring("bad id!:AAAA"))).toMatch(/key id/);
  });

  it("takes keys from TESSERA_VAULT_KEYS or a key file, re-read when the file changes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tessera-vault-"));
    try {
      const file = join(dir, "keys");
      const k1 = keyEntry("k1");
      await writeFile(file, `${k1}\n`, { mode: 0o600 });
      const vault = await Vault.create(keyringSourceFromEnv({ TESSERA_VAULT_KEY_FILE: file })!);
      const old = vault.seal("t", ctx);
      await writeFile(file, `${keyEntry("k2")}\n${k1}\n`);
      await utimes(file, new Date(), new Date(Date.now() + 5_000));
      expect(vault.currentKeyId()).toBe("k2");
      expect(vault.open(old, ctx)).toBe("t");
      expect(keyringSourceFromEnv({})).toBeUndefined();
      expect(keyringSourceFromEnv({ TESSERA_VAULT_KEYS: keyEntry("e") })!.keyring().currentKeyId).toBe("e");
      expect(vaultError(() => keyringSourceFromEnv({ TESSERA_VAULT_KEYS: k1, TESSERA_VAULT_KEY_FILE: file }))).toMatch(
        /not both/,
      );
      await expect(Vault.create(keyFileSource(join(dir, "missing")))).rejects.toThrow(/cannot read the vault key file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("key rotation", () => {
  async function storeWith(vault: Vault, n: number) {
    const store = new MemoryConnectionStore();
    for (let i = 0; i < n; i++) {
      const key = { provider: "todoist", userId: `u${i}` };
      await store.withLock(key, (locked) =>
        locked.write({
          state: "connected",
          scopes: [],
          expiresAt: null,
          refreshedAt: null,
          lastError: null,
          sealed: vault.seal(`token-${i}`, { purpose: "credential", subject: `todoist/u${i}` }),
        }),
      );
    }
    return store;
  }

  it("reseals every box under the new key, in batches; old and new keys read throughout", async () => {
    const k1 = keyEntry("k1");
    const store = await storeWith(await testVault(k1), 25);
    const k2 = keyEntry("k2");
    const rotated = await testVault(k2, k1);
    const progress: number[] = [];
    const report = await rotateVaultKey(store, rotated, { batchSize: 10, onProgress: (n) => progress.push(n) });
    expect(report).toMatchObject({ keyId: "k2", resealed: 25, raced: 0, byKey: { k2: 25 } });
    expect(progress).toEqual([10, 20, 25]);
    // Once it reports only k2, k1 can go: a vault without it opens everything.
    const k2Only = await testVault(k2);
    const row = (await store.get({ provider: "todoist", userId: "u7" }))!;
    expect(k2Only.open(row.sealed!, { purpose: "credential", subject: "todoist/u7" })).toBe("token-7");
  });

  it("loses a race to a concurrent refresh without losing the refresh, and stops if old keys keep coming", async () => {
    const k1 = keyEntry("k1");
    const oldVault = await testVault(k1);
    const store = await storeWith(oldVault, 3);
    const rotated = await testVault(keyEntry("k2"), k1);
    // A replica still sealing under k1 rewrites a row between the rotation's read and its swap, every time.
    const replace = store.replaceSealed.bind(store);
    store.replaceSealed = async (entry, next) => {
      const key = { provider: "todoist", userId: entry.subject.split("/")[1]! };
      await store.withLock(key, async (locked) => {
        await locked.write({
          ...locked.record!,
          sealed: oldVault.seal("refreshed", { purpose: "credential", subject: entry.subject }),
        });
      });
      return replace(entry, next);
    };
    await expect(rotateVaultKey(store, rotated, { maxFruitlessSteps: 2 })).rejects.toThrow(
      /keep being sealed under old keys \(k1: 3\)/,
    );
    const row = (await store.get({ provider: "todoist", userId: "u0" }))!;
    expect(rotated.open(row.sealed!, { purpose: "credential", subject: "todoist/u0" })).toBe("refreshed");
  });
});
