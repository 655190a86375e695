import { MemoryConnectionStore, type ConnectionStore, type ConnectionWrite } from "@tessera/connectors";
import { beforeAll, describe, expect, it } from "vitest";
import { SqlConnectionStore } from "../../src/connections/sql-connection-store.js";
import { migrate } from "../../src/sql/migrate.js";
import type { SqlClient } from "../../src/sql/sql-client.js";
import { MIGRATIONS } from "../../src/store/migrations.js";
import { sqlBackends } from "../sql-backends.js";

/**
 * The connection store contract, on every store the coordinator can open: PGlite, Postgres and memory. One
 * database per backend for the file (a PGlite instance takes seconds to load), emptied before each test.
 */
const backends: { name: string; open(): Promise<ConnectionStore> }[] = [
  ...sqlBackends().map((b) => {
    let client: Promise<SqlClient> | undefined;
    return {
      name: b.name,
      async open() {
        client ??= b.open().then(async (c) => {
          await migrate(c, MIGRATIONS);
          return c;
        });
        const sql = await client;
        await sql.query("TRUNCATE tessera_connections, tessera_oauth_pending");
        return new SqlConnectionStore(sql);
      },
    };
  }),
  { name: "memory", open: async () => new MemoryConnectionStore() },
];

const alice = { provider: "todoist", userId: "alice" };
const box = (keyId: string, fill: number) => ({ keyId, box: new Uint8Array(41).fill(fill) });

function credential(overrides: Partial<ConnectionWrite> = {}): ConnectionWrite {
  return {
    state: "connected",
    scopes: ["data:read_write"],
    expiresAt: 1_800_000_000_000,
    refreshedAt: null,
    lastError: null,
    sealed: box("k1", 7),
    ...overrides,
  };
}

describe.each(backends)("connection store on $name", (backend) => {
  beforeAll(() => backend.open().then(() => undefined), 120_000);

  it("writes and reads a connection; each credential write counts a version, the cursor is kept unless given", async () => {
    const store = await backend.open();
    const first = await store.withLock(alice, (l) => l.write(credential({ cursor: "st-1" })));
    expect(first).toMatchObject({
      ...alice,
      state: "connected",
      version: 1,
      cursor: "st-1",
      expiresAt: 1_800_000_000_000,
    });
    expect(first.sealed!.box).toEqual(new Uint8Array(41).fill(7));
    const second = await store.withLock(alice, (l) =>
      l.write(credential({ sealed: box("k1", 8), refreshedAt: 1_700_000_000_123 })),
    );
    expect(second).toMatchObject({ version: 2, cursor: "st-1", refreshedAt: 1_700_000_000_123 });
    await store.setCursor(alice, "st-2");
    const read = await store.get(alice);
    expect(read).toMatchObject({ version: 2, cursor: "st-2" });
    expect(read!.sealed).toEqual(box("k1", 8));
    // What a method returns is the caller's: changing it changes nothing stored.
    read!.sealed!.box[0] = 99;
    expect((await store.get(alice))!.sealed!.box[0]).toBe(8);
    const wiped = await store.withLock(alice, (l) =>
      l.write(credential({ state: "needs_reauth", sealed: null, expiresAt: null, lastError: "invalid_grant" })),
    );
    expect(wiped).toMatchObject({ state: "needs_reauth", sealed: null, lastError: "invalid_grant", version: 3 });
  });

  it("lists by provider, user and state, in that order", async () => {
    const store = await backend.open();
    for (const [provider, userId] of [
      ["todoist", "b"],
      ["github", "z"],
      ["todoist", "a"],
    ] as const)
      await store.withLock({ provider, userId }, (l) => l.write(credential()));
    await store.withLock({ provider: "todoist", userId: "c" }, (l) =>
      l.write(credential({ state: "needs_reauth", sealed: null })),
    );
    expect((await store.list()).map((r) => `${r.provider}/${r.userId}`)).toEqual([
      "github/z",
      "todoist/a",
      "todoist/b",
      "todoist/c",
    ]);
    expect((await store.list({ provider: "todoist", state: "needs_reauth" })).map((r) => r.userId)).toEqual(["c"]);
    expect((await store.list({ userId: "z" })).map((r) => r.provider)).toEqual(["github"]);
  });

  it("gives a pending authorization to one taker only, and prunes the expired", async () => {
    const store = await backend.open();
    const pending = { stateHash: "h1", provider: "todoist", userId: "alice", sealed: box("k1", 1), expiresAt: 2_000 };
    await store.putPending(pending);
    const takes = await Promise.all([store.takePending("h1"), store.takePending("h1"), store.takePending("h1")]);
    expect(takes.filter((t) => t !== undefined)).toEqual([pending]);
    await store.putPending({ ...pending, stateHash: "old", expiresAt: 1_000 });
    await store.putPending({ ...pending, stateHash: "new", expiresAt: 3_000 });
    expect(await store.prunePending(2_000)).toBe(1);
    expect(await store.takePending("old")).toBeUndefined();
    expect(await store.takePending("new")).toBeDefined();
  });

  it("serializes lock holders; each reads what the one before it wrote", async () => {
    const store = await backend.open();
    await store.withLock(alice, (l) => l.write(credential()));
    const seen: number[] = [];
    await Promise.all(
      Array.from({ length: 5 }, () =>
        store.withLock(alice, async (l) => {
          seen.push(l.record!.version);
          await new Promise((resolve) => setTimeout(resolve, 5));
          await l.write(credential());
        }),
      ),
    );
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    await store.withLock(alice, (l) => l.delete());
    expect(await store.get(alice)).toBeUndefined();
    // A holder that throws releases the lock.
    await expect(store.withLock(alice, () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await store.withLock(alice, async (l) => l.record)).toBeUndefined();
  });

  it("lists boxes not under a key, swaps one only if unchanged, and counts boxes per key", async () => {
    const store = await backend.open();
    await store.withLock(alice, (l) => l.write(credential()));
    await store.withLock({ provider: "todoist", userId: "bob" }, (l) => l.write(credential({ sealed: box("k2", 2) })));
    await store.putPending({
      stateHash: "h",
      provider: "todoist",
      userId: "carol",
      sealed: box("k1", 3),
      expiresAt: 9e12,
    });
    expect(await store.countByKey()).toEqual({ k1: 2, k2: 1 });
    const left = await store.sealedNotUnder("k2", 10);
    expect(left.map((e) => `${e.kind}:${e.subject}`).sort()).toEqual([
      "connection:todoist/alice",
      "pending_authorization:h",
    ]);
    const entry = left.find((e) => e.kind === "connection")!;
    // A refresh rewrote it meanwhile: the swap loses, the refresh stays.
    await store.withLock(alice, (l) => l.write(credential({ sealed: box("k1", 9) })));
    expect(await store.replaceSealed(entry, box("k2", 4))).toBe(false);
    expect((await store.get(alice))!.sealed).toEqual(box("k1", 9));
    for (const e of await store.sealedNotUnder("k2", 10)) expect(await store.replaceSealed(e, box("k2", 5))).toBe(true);
    expect(await store.countByKey()).toEqual({ k2: 3 });
    expect((await store.get(alice))!.version).toBe(2); // a rotation is not a credential write
    expect(await store.sealedNotUnder("k2", 10)).toEqual([]);
  });
});
