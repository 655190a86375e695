import { Vault, keyFileSource, rotateVaultKey } from "@tessera/connectors";
import { describe, expect, it } from "vitest";
import { SqlConnectionStore } from "../../src/connections/sql-connection-store.js";
import { openSqlClient } from "../../src/sql/open-sql-client.js";
import {
  KeyFile,
  SharedClock,
  collect,
  coordinatorWithConnectors,
  keyEntry,
  mockProvider,
  type ConnectorCoordinator,
  useConnectorServers,
} from "./support.js";

const servers = useConnectorServers();

/** Two coordinators on one fresh Postgres database, sharing a key file and a clock. */
async function twoReplicas(keys: KeyFile): Promise<[ConnectorCoordinator, ConnectorCoordinator, SharedClock, string]> {
  const url = await servers.postgres.createDatabase();
  const clock = new SharedClock();
  const provider = mockProvider(servers.auth, servers.proxy.origin);
  const a = await coordinatorWithConnectors(url, provider, keys, clock);
  servers.keep(a);
  const b = await coordinatorWithConnectors(url, provider, keys, clock);
  servers.keep(b);
  return [a, b, clock, url];
}

/** Begins on one replica, finishes on the other: the callback may land on any of them. */
async function connect(begin: ConnectorCoordinator, finish: ConnectorCoordinator, userId: string): Promise<void> {
  const { redirectUrl } = await begin.coordinator.connections!.begin("mock", userId);
  await finish.coordinator.connections!.finish(await servers.auth.authorize(redirectUrl));
}

const refreshes = () => servers.auth.requests["refresh_token"] ?? 0;

describe("connections on coordinator replicas (two coordinators, one Postgres)", () => {
  it("20 concurrent callers on two replicas share one refresh: the lock is shared, the row re-read after it", async () => {
    const keys = await KeyFile.create(keyEntry("k1"));
    servers.keep(keys);
    const [a, b, clock] = await twoReplicas(keys);
    await connect(a, b, "alice");
    clock.at += 3600_000;
    // A slow token endpoint: the refresh is still in flight when every caller has asked.
    servers.proxy.always({ kind: "delay", ms: 400 });
    const before = refreshes();
    const callers = Array.from({ length: 20 }, (_, i) =>
      collect((i % 2 === 0 ? a : b).coordinator.connections!.connector("mock").fetchSignals("alice")),
    );
    const results = await Promise.all(callers);
    expect(results.every((events) => events.length === 1)).toBe(true);
    expect(refreshes() - before).toBe(1);
    const [seenByA, seenByB] = await Promise.all([
      a.coordinator.connections!.get("mock", "alice"),
      b.coordinator.connections!.get("mock", "alice"),
    ]);
    expect(seenByA).toEqual(seenByB);
    expect(seenByA).toMatchObject({ state: "connected", lastError: null });
  });

  it("rotates the vault key while both replicas keep refreshing: no error, no refresh lost, every box moved", async () => {
    const k1 = keyEntry("k1");
    const keys = await KeyFile.create(k1);
    servers.keep(keys);
    const [a, b, clock, url] = await twoReplicas(keys);
    const users = Array.from({ length: 12 }, (_, i) => `user${i}`);
    for (const [i, user] of users.entries()) await connect(i % 2 ? a : b, i % 2 ? b : a, user);

    // Step 2 of the runbook: the new key goes first in the key file; the replicas pick it up without a restart.
    const k2 = keyEntry("k2");
    await keys.write(k2, k1);
    clock.at += 3600_000;
    const traffic = Promise.all(
      users.map((user, i) => collect((i % 2 ? a : b).coordinator.connections!.connector("mock").fetchSignals(user))),
    );
    // Step 3, as `tessera vault rotate-key` does it: its own connection, the same key file.
    const rotator = await openSqlClient({ databaseUrl: url });
    try {
      const report = await rotateVaultKey(
        new SqlConnectionStore(rotator),
        await Vault.create(keyFileSource(keys.path)),
        {
          batchSize: 3,
        },
      );
      expect(report.keyId).toBe("k2");
      await traffic;
      expect(await new SqlConnectionStore(rotator).countByKey()).toEqual({ k2: users.length });
    } finally {
      await rotator.close();
    }
    // Step 4: k1 leaves the key file; every connection still works, refreshed or not.
    await keys.write(k2);
    clock.at += 3600_000;
    for (const [i, user] of users.entries())
      expect(await collect((i % 2 ? b : a).coordinator.connections!.connector("mock").fetchSignals(user))).toHaveLength(
        1,
      );
    const listed = await a.coordinator.connections!.list();
    expect(listed.map((c) => [c.keyId, c.state])).toEqual(users.map(() => ["k2", "connected"]));
  });

  it("what a failed refresh records is kept on Postgres and seen by both: last_error, then needs_reauth", async () => {
    const keys = await KeyFile.create(keyEntry("k1"));
    servers.keep(keys);
    const [a, b, clock] = await twoReplicas(keys);
    await connect(a, a, "erin");
    clock.at += 3600_000;
    servers.proxy.always({ kind: "status", status: 500 });
    await expect(collect(a.coordinator.connections!.connector("mock").fetchSignals("erin"))).rejects.toMatchObject({
      code: "provider_unavailable",
    });
    expect(await b.coordinator.connections!.get("mock", "erin")).toMatchObject({
      state: "connected",
      lastError: expect.stringMatching(/^provider_unavailable/) as unknown,
    });
    servers.proxy.clear();
    servers.auth.revokeAllGrants();
    await expect(collect(b.coordinator.connections!.connector("mock").fetchSignals("erin"))).rejects.toMatchObject({
      code: "needs_reauth",
    });
    expect(await a.coordinator.connections!.get("mock", "erin")).toMatchObject({
      state: "needs_reauth",
      lastError: "invalid_grant",
      keyId: null,
    });
    // Nothing left to try: no request reaches the provider until a new consent.
    const before = refreshes();
    await expect(collect(a.coordinator.connections!.connector("mock").fetchSignals("erin"))).rejects.toMatchObject({
      code: "needs_reauth",
    });
    expect(refreshes()).toBe(before);
  });
});
