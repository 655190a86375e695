import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { ConnectorError } from "@tessera/connectors";
import { describe, expect, it } from "vitest";
import {
  CLIENT,
  KeyFile,
  SharedClock,
  capturedLogger,
  collect,
  coordinatorWithConnectors,
  keyEntry,
  mockProvider,
  useConnectorServers,
} from "./support.js";

const run = promisify(execFile);
const servers = useConnectorServers();

/** pg_dump of the whole database, as text (bytea as hex): what a stolen backup holds. */
async function dump(url: string): Promise<string> {
  const db = new URL(url);
  const { stdout } = await run(
    "pg_dump",
    ["-h", db.hostname, "-p", db.port, "-U", "postgres", "--no-owner", db.pathname.slice(1)],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout;
}

/** A secret as it would appear if stored or printed: itself, and its hex and base64 forms (bytea, a Buffer's JSON). */
function forms(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  return [secret, bytes.toString("hex"), bytes.toString("base64").replace(/=+$/, "")];
}

describe("no plaintext credential anywhere: database, logs, the service's answers and errors", () => {
  it("after connecting, refreshing, failing, needing re-auth, disconnecting and rotating the key", async () => {
    const url = await servers.postgres.createDatabase();
    const k1 = keyEntry("k1");
    const k2 = keyEntry("k2");
    const keys = await KeyFile.create(k1);
    const clock = new SharedClock();
    const log = capturedLogger();
    const node = await coordinatorWithConnectors(
      url,
      mockProvider(servers.auth, servers.proxy.origin),
      keys,
      clock,
      log.logger,
    );
    const service = node.coordinator.connections!;
    const outputs: unknown[] = [];
    const record = async <T>(promise: Promise<T>): Promise<T | undefined> => {
      try {
        const value = await promise;
        outputs.push(value);
        return value;
      } catch (err) {
        outputs.push(err instanceof ConnectorError ? { ...err, message: err.message, stack: err.stack } : String(err));
        return undefined;
      }
    };
    const connect = async (userId: string) => {
      const begun = (await record(service.begin("mock", userId)))!;
      await record(service.finish(await servers.auth.authorize(begun.redirectUrl)));
      return begun.state;
    };
    const signals = (userId: string) => record(collect(service.connector("mock").fetchSignals(userId)));
    try {
      const states = [await connect("alice"), await connect("bob"), await connect("carol")];
      clock.at += 3600_000;
      await signals("alice"); // refreshed
      servers.proxy.always({ kind: "status", status: 503 });
      clock.at += 3600_000;
      await signals("bob"); // refresh failed: last_error recorded
      servers.proxy.clear();
      await record(service.disconnect("mock", "alice")); // RFC 7009 revocation, wiped
      servers.auth.revokeAllGrants();
      await signals("carol"); // invalid_grant: needs_reauth
      const pending = await record(service.begin("mock", "dave")); // left pending: a sealed verifier in the database
      states.push(pending!.state);
      await keys.write(k2, k1);
      await record(service.rotateKey({ batchSize: 2 }));
      await record(service.list());
      await record(service.get("mock", "bob"));
      await record(service.vaultStatus());
      await record(service.finish({ code: "x", state: "forged" }));
      expect(servers.auth.issued.length).toBeGreaterThanOrEqual(9);

      const places = { database: await dump(url), logs: log.text(), outputs: JSON.stringify(outputs) };
      expect(places.database).toContain("tessera_connections"); // the dump is real
      expect(places.logs).toContain("refreshed a connection");
      const secrets = [
        ...servers.auth.issued.map((token) => ({ what: "token", token })),
        { what: "client secret", token: CLIENT.clientSecret },
        { what: "vault key k1", token: k1.split(":")[1]! },
        { what: "vault key k2", token: k2.split(":")[1]! },
      ];
      for (const [place, text] of Object.entries(places))
        for (const { what, token } of secrets)
          for (const form of forms(token)) expect(text.includes(form), `${what} in ${place}`).toBe(false);
      // begin() hands the state to its caller (it is in the redirect URL); the database keeps only its hash.
      for (const state of states) {
        expect(places.database.includes(state), "OAuth state in the database").toBe(false);
        expect(places.logs.includes(state), "OAuth state in the logs").toBe(false);
      }
    } finally {
      await node.close();
      await keys.close();
    }
  });
});
