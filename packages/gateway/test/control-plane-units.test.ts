import { randomBytes } from "node:crypto";
import { Vault, parseKeyring, sealGatewaySecrets, staticKeyring } from "@tessera/connectors/storage";
import { decodeMessage, encodeMessage, type Message } from "@tessera/contract";
import { describe, expect, it } from "vitest";
import { cachedAccounts, sealedAccountLoader, type AccountRecordSource } from "../src/control/vault-accounts.js";
import { InProcessInboundStream } from "../src/inbound/in-process-stream.js";
import { completeMessage } from "../src/inbound/message.js";

function message(source: string, text = "hi"): Message {
  const done = completeMessage(
    { conversation: "c", source_message_id: source, sender: { id: "u" }, text, attachments: [], attributes: {} },
    { channelType: "sample", tenant: "dev", account: "local", signingSecrets: [] },
    new Date("2026-12-07T06:00:00Z"),
  );
  if (!done.ok) throw done.error;
  return done.value;
}

describe("the in-process stand-in for the inbound stream", () => {
  it("stores a message id once inside the duplicate window and again after it; subscribers get each stored one", async () => {
    let now = 1_000_000;
    const stream = new InProcessInboundStream({ duplicateWindowMs: 60_000, now: () => now });
    const seen: Message[] = [];
    const unsubscribe = stream.onMessage((m) => seen.push(m));
    const m = message("s1");
    const first = await stream.publish("subject", encodeMessage(m), { msgID: "k1" });
    const retry = await stream.publish("subject", encodeMessage(m), { msgID: "k1" });
    expect([first.duplicate, first.seq, retry.duplicate, retry.seq]).toEqual([false, 1, true, 1]);
    now += 60_000;
    const late = await stream.publish("subject", encodeMessage(m), { msgID: "k1" });
    expect([late.duplicate, late.seq]).toEqual([false, 2]);
    expect(seen.map((x) => x.id)).toEqual([m.id, m.id]);
    const [health] = await stream.streams();
    expect(health).toMatchObject({
      name: "TESSERA_GW_INBOUND",
      messages: 2,
      lastSeq: 2,
      firstSeq: 1,
      consumers: 1,
      duplicateWindowMs: 60_000,
    });
    unsubscribe();
    expect((await stream.streams())[0]!.consumers).toBe(0);
  });

  it("refuses what is not a Message and keeps at most maxMessages, oldest dropped", async () => {
    const stream = new InProcessInboundStream({ maxMessages: 2 });
    await expect(stream.publish("s", new TextEncoder().encode("{}"))).rejects.toThrow(/not a Message/);
    for (const id of ["a", "b", "c"]) await stream.publish("s", encodeMessage(message(id)), { msgID: id });
    expect(stream.messages().map((m) => m.source_message_id)).toEqual(["b", "c"]);
    const [health] = await stream.streams();
    expect(health).toMatchObject({ messages: 2, firstSeq: 2, lastSeq: 3 });
    expect(health!.bytes).toBe(stream.messages().reduce((n, m) => n + encodeMessage(m).byteLength, 0));
    expect(decodeMessage(encodeMessage(stream.messages()[0]!)).ok).toBe(true);
  });
});

describe("the credential adapter", () => {
  const keyLine = `k1:${randomBytes(32).toString("base64")}`;
  const view = (id: string, keyId: string | null) => {
    const [channelType, tenant, account] = id.split("/") as [string, string, string];
    return {
      id,
      channelType,
      tenant,
      account,
      disabled: false,
      rateLimit: { perSecond: 2, burst: 3 },
      settings: { appId: "A1" },
      credentials: { names: ["botToken"], signingSecrets: 1, keyId, rotatedAt: null, connection: null },
      webhookPath: `/hooks/${id}`,
      webhookUrl: null,
      createdAt: "2026-12-07T00:00:00.000Z",
      updatedAt: "2026-12-07T00:00:00.000Z",
    };
  };

  it("opens the sealed credentials with the vault; caches lookups for the TTL; drops one when told", async () => {
    const vault = await Vault.create(staticKeyring(parseKeyring(keyLine)));
    const sealed = sealGatewaySecrets(vault, "slack/acme/T1", {
      signingSecrets: ["sig"],
      credentials: { botToken: "xoxb" },
    });
    let calls = 0;
    const source: AccountRecordSource = {
      account: async (c, t, a) => (
        calls++,
        `${c}/${t}/${a}` === "slack/acme/T1" ? view("slack/acme/T1", "k1") : undefined
      ),
      sealed: async () => ({ keyId: sealed.keyId, box: Buffer.from(sealed.box).toString("base64") }),
    };
    let now = 0;
    const directory = cachedAccounts(sealedAccountLoader(source, vault), { ttlMs: 1_000, now: () => now });
    const account = await directory.get("slack", "acme", "T1");
    expect(account).toEqual({
      channelType: "slack",
      tenant: "acme",
      account: "T1",
      signingSecrets: ["sig"],
      credentials: { botToken: "xoxb" },
      settings: { appId: "A1" },
      rateLimit: { perSecond: 2, burst: 3 },
      disabled: false,
    });
    await directory.get("slack", "acme", "T1");
    expect(await directory.get("slack", "acme", "missing")).toBeUndefined();
    expect(calls).toBe(2);
    directory.invalidate("slack/acme/T1");
    await directory.get("slack", "acme", "T1");
    now += 1_000;
    await directory.get("slack", "acme", "missing");
    expect(calls).toBe(4);
  });

  it("refuses to serve sealed credentials without a vault key, and does not cache the failure", async () => {
    let fail = true;
    const source: AccountRecordSource = {
      account: async () => {
        if (fail) throw new Error("coordinator unreachable");
        return view("slack/acme/T1", "k1");
      },
      sealed: async () => ({ keyId: "k1", box: "AA==" }),
    };
    const directory = cachedAccounts(sealedAccountLoader(source, undefined), { ttlMs: 60_000 });
    await expect(directory.get("slack", "acme", "T1")).rejects.toThrow(/unreachable/);
    fail = false;
    await expect(directory.get("slack", "acme", "T1")).rejects.toThrow(/no vault key/);
  });
});
