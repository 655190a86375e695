/**
 * Issue 20 item 5, the store: content-addressed (sha256) and deduplicated, with a TTL that is real — in the
 * JetStream object store the server deletes expired objects; in an S3-compatible bucket (s3rver here) the store
 * refuses and sweeps them — behind one interface.
 */
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { attachmentStorageKey } from "@tessera/contract";
import { natsAttachmentStore, s3AttachmentStore, sha256Hex, type AttachmentStore } from "@tessera/gateway";
import { startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalS3, type LocalS3 } from "./support/s3-server.js";

let nats: NatsServerHandle;
let nc: NatsConnection;
let s3: LocalS3;

beforeAll(async () => {
  [nats, s3] = await Promise.all([startNatsServer(), startLocalS3(["attachments"])]);
  nc = await connect({ servers: nats.url });
});
afterAll(async () => {
  await nc?.close();
  await Promise.all([nats?.stop(), s3?.stop()]);
});

const bytes = (text: string) => new TextEncoder().encode(text);

/** A clock the S3 store reads, moved by the test (s3rver's LastModified is the real time). */
function movableClock() {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms: number) => (offset += ms) };
}

async function s3Keys(prefix: string): Promise<string[]> {
  const page = await s3.client.send(new ListObjectsV2Command({ Bucket: "attachments", Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key ?? "");
}

describe.each([
  ["JetStream object store", "nats"],
  ["S3-compatible (s3rver)", "s3"],
] as const)("attachment store: %s", (_name, backend) => {
  const clock = movableClock();
  let store: AttachmentStore;
  beforeAll(async () => {
    store =
      backend === "nats"
        ? await natsAttachmentStore({ jetstream: jetstream(nc), ttlMs: 60_000, bucket: "ATT_DEDUP", now: clock.now })
        : s3AttachmentStore({
            client: s3.client,
            bucket: "attachments",
            prefix: "dedup/",
            ttlMs: 60_000,
            now: clock.now,
          });
  });

  it("stores bytes under sha256/<hex> and reads them back", async () => {
    const data = bytes(`hello ${backend}`);
    const stored = await store.put(data, { contentType: "text/plain" });
    expect(stored.sha256).toBe(sha256Hex(data));
    expect(stored.key).toBe(attachmentStorageKey(stored.sha256));
    expect(stored).toMatchObject({ byteSize: data.byteLength, deduplicated: false });
    expect(await store.get(stored.key)).toEqual(data);
    expect(await store.get(attachmentStorageKey("0".repeat(64)))).toBeUndefined();
  });

  it("deduplicates equal bytes: the second put writes nothing, and a different file is a different key", async () => {
    const data = bytes(`logo ${backend}`);
    const first = await store.put(data);
    const second = await store.put(new Uint8Array(data));
    expect(second).toMatchObject({ key: first.key, deduplicated: true });
    expect(second.storedAt.getTime()).toBe(first.storedAt.getTime());
    const other = await store.put(bytes(`logo ${backend}!`));
    expect(other.key).not.toBe(first.key);
    if (backend === "s3") {
      expect((await s3Keys("dedup/")).filter((k) => k === `dedup/${first.key}`)).toHaveLength(1);
    } else {
      const os = await new Objm(jetstream(nc)).open("ATT_DEDUP");
      const names = (await os.list()).map((i) => i.name);
      expect(names.filter((n) => n === first.key)).toHaveLength(1);
    }
  });

  it("writes a copy again once less than half its TTL is left, restarting the TTL", async () => {
    const data = bytes(`aging ${backend}`);
    const first = await store.put(data);
    clock.advance(31_000);
    const again = await store.put(data);
    expect(again.deduplicated).toBe(false);
    expect(again.expiresAt.getTime()).toBeGreaterThanOrEqual(first.expiresAt.getTime());
    expect(await store.get(first.key)).toEqual(data);
    clock.advance(-31_000);
  });
});

describe("the TTL is real", () => {
  it("JetStream: the server deletes an expired object (the bucket's stream has a max age)", async () => {
    const store = await natsAttachmentStore({ jetstream: jetstream(nc), ttlMs: 1_000, bucket: "ATT_TTL" });
    const stored = await store.put(bytes("short-lived"));
    expect(await store.get(stored.key)).toEqual(bytes("short-lived"));
    const info = await (await jetstreamManager(nc)).streams.info("OBJ_ATT_TTL");
    expect(info.config.max_age).toBe(1_000_000_000);
    const os = await new Objm(jetstream(nc)).open("ATT_TTL");
    // Gone from the server itself, not only refused by the store.
    await waitFor("the server to expire the object", async () => (await os.info(stored.key)) === null, 10_000, 100);
    expect(await store.get(stored.key)).toBeUndefined();
    const state = (await (await jetstreamManager(nc)).streams.info("OBJ_ATT_TTL")).state;
    expect(state.messages).toBe(0);
  });

  it("S3: an expired object is refused, and sweep deletes every expired one", async () => {
    const clock = movableClock();
    const store = s3AttachmentStore({
      client: s3.client,
      bucket: "attachments",
      prefix: "ttl/",
      ttlMs: 5_000,
      now: clock.now,
    });
    const a = await store.put(bytes("first"));
    const b = await store.put(bytes("second"));
    expect(await s3Keys("ttl/")).toHaveLength(2);
    clock.advance(6_000);
    const fresh = await store.put(bytes("third"));
    expect(await store.stat(fresh.key)).toBeDefined();
    expect(await store.sweep()).toBe(1 + 1);
    expect((await s3Keys("ttl/")).sort()).toEqual([`ttl/${fresh.key}`]);
    expect(await store.get(a.key)).toBeUndefined();
    expect(await store.get(b.key)).toBeUndefined();
    // An expired object is refused on read even before a sweep.
    clock.advance(6_000);
    expect(await store.get(fresh.key)).toBeUndefined();
    expect(await s3Keys("ttl/")).toEqual([]);
  });
});
