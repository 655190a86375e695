import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryConnectionStore, OAuthConnector, todoistProvider, type ConnectorError } from "../src/index.js";
import { TEST_CLIENT, TestClock, recordingLog, testEgress, testVault } from "./support/harness.js";
import { collect } from "./support/resource-server.js";
import { TodoistFake } from "./support/todoist-fake.js";
import type { Egress } from "@tessera/egress";

let todoist: TodoistFake;
let egress: Egress;
let connector: OAuthConnector;

beforeAll(async () => {
  todoist = await TodoistFake.start(TEST_CLIENT);
  egress = testEgress();
  const clock = new TestClock();
  connector = new OAuthConnector({
    provider: todoistProvider({ endpoints: todoist.endpoints }),
    client: TEST_CLIENT,
    store: new MemoryConnectionStore(clock.now),
    vault: await testVault(),
    egress,
    allowInsecureRequests: true,
    now: clock.now,
    sleep: clock.sleep,
    log: recordingLog(),
  });
});
afterAll(async () => {
  await egress.close();
  await todoist.stop();
});

async function connectUser(userId: string) {
  const { redirectUrl } = await connector.beginOAuth(userId);
  const res = await fetch(redirectUrl, { redirect: "manual" });
  const callback = new URL(res.headers.get("location")!).searchParams;
  return connector.finishOAuth(callback.get("code")!, callback.get("state")!);
}

describe("Todoist", () => {
  it("connects with its comma-separated scopes; the token never expires, so it is never refreshed", async () => {
    const credential = await connectUser("alice");
    expect(todoist.scopes.at(-1)).toBe("data:read_write");
    expect(credential).toMatchObject({
      provider: "todoist",
      state: "connected",
      expiresAt: null,
      scopes: ["data:read_write"],
    });
  });

  it("syncs incrementally by sync_token: a full sync first, then only what changed", async () => {
    todoist.upsert("t1", "Buy milk");
    todoist.upsert("t2", "Call Bob");
    const first = await collect(connector.fetchSignals("alice"));
    expect(first.map((e) => [e.kind, e.sourceId, e.title])).toEqual([
      ["task.upserted", "t1", "Buy milk"],
      ["task.upserted", "t2", "Call Bob"],
    ]);
    expect(first[0]!.cursor).toMatch(/^st-/);
    // Nothing changed: nothing new, and the stored cursor was used (no `since`).
    expect(await collect(connector.fetchSignals("alice"))).toEqual([]);
    todoist.upsert("t3", "Water plants");
    expect((await collect(connector.fetchSignals("alice"))).map((e) => e.sourceId)).toEqual(["t3"]);
    // An explicit cursor wins over the stored one.
    expect((await collect(connector.fetchSignals("alice", first[0]!.cursor))).map((e) => e.sourceId)).toEqual(["t3"]);
  });

  it("completes a task (act) and the next sync reports it completed", async () => {
    expect(await connector.act("alice", { kind: "complete_task", target: "t1" })).toEqual({
      kind: "complete_task",
      target: "t1",
      changed: true,
    });
    const events = await collect(connector.fetchSignals("alice"));
    expect(events.map((e) => [e.kind, e.sourceId])).toEqual([["task.completed", "t1"]]);
    const unknown = await connector.act("alice", { kind: "complete_task", target: "nope" }).catch((e: unknown) => e);
    expect((unknown as ConnectorError).code).toBe("unsupported_action");
    const other = await connector.act("alice", { kind: "delete_everything", target: "t1" }).catch((e: unknown) => e);
    expect((other as ConnectorError).code).toBe("unsupported_action");
  });

  it("a token the user revoked at Todoist: 401, no refresh token to try, so needs_reauth", async () => {
    await connectUser("bob");
    todoist.tokens.clear();
    const err = await collect(connector.fetchSignals("bob")).catch((e: unknown) => e);
    expect((err as ConnectorError).code).toBe("needs_reauth");
    expect(await connector.connection("bob")).toMatchObject({ state: "needs_reauth", lastError: "no_refresh_token" });
  });

  it("revokes with Todoist's own call (app credentials and token) and wipes the local credentials", async () => {
    await connectUser("carol");
    const [token] = [...todoist.tokens];
    expect(await connector.revoke("carol")).toEqual({ existed: true, providerRevoked: true });
    expect(todoist.log.at(-1)).toBe("POST /api/v1/access_tokens/revoke");
    expect(todoist.tokens.has(token!)).toBe(false);
    expect(await connector.connection("carol")).toBeUndefined();
    const err = await collect(connector.fetchSignals("carol")).catch((e: unknown) => e);
    expect((err as ConnectorError).code).toBe("not_connected");
  });
});
