import type { ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createEgress, FetchTimeoutError, FetchTooLargeError, type Egress } from "../src/index.js";
import { forbidNonLoopbackDials, rejection, scriptedResolver, startServer, type TestServer } from "./helpers.js";

const CHUNK = 16 * 1024;
const ENDLESS = 256 * 1024 * 1024;

/** What the server managed to send before the client went away. */
interface Outcome {
  written: number;
  finished: boolean;
}
const outcomes = new Map<string, Promise<Outcome>>();

/** Writes `total` bytes in chunks, each when the socket takes it, until done or the client disconnects. */
function stream(res: ServerResponse, total: number, everyMs = 0): Promise<Outcome> {
  return new Promise((resolve) => {
    let written = 0;
    let timer: NodeJS.Timeout | undefined;
    res.on("close", () => {
      clearTimeout(timer);
      resolve({ written, finished: res.writableFinished });
    });
    const next = () => {
      if (res.destroyed) return;
      if (written >= total) return void res.end();
      const n = Math.min(CHUNK, total - written);
      written += n;
      res.write(Buffer.alloc(n, 0x61), () => (timer = setTimeout(next, everyMs)));
    };
    next();
  });
}

let server: TestServer;
let egress: Egress;

beforeAll(async () => {
  server = await startServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const id = url.searchParams.get("id") ?? "";
    switch (url.pathname) {
      case "/endless":
        return void outcomes.set(id, stream(res, ENDLESS));
      case "/sized":
        res.writeHead(200, { "content-length": String(Number(url.searchParams.get("bytes"))) });
        return void outcomes.set(id, stream(res, Number(url.searchParams.get("bytes"))));
      case "/gzip":
        res.writeHead(200, { "content-encoding": "gzip" });
        return res.end(gzipSync(Buffer.alloc(8 * 1024 * 1024)));
      case "/drip":
        res.writeHead(200, { "content-type": "text/plain" });
        return void outcomes.set(id, stream(res, ENDLESS, 100));
      case "/silent":
        return; // never answers
      default:
        res.end("ok");
    }
  });
  egress = createEgress({
    allow: { cidrs: ["127.0.0.1/32"], ports: [{ port: server.port }] },
    resolve: scriptedResolver({}),
  });
});
afterAll(async () => {
  await egress.close();
  await server.close();
});
beforeEach(() => forbidNonLoopbackDials());
afterEach(() => vi.restoreAllMocks());

describe("the body is capped while it streams", () => {
  it("fails an endless body past the cap and closes the connection there, not after reading it all", async () => {
    const maxBytes = 256 * 1024;
    const res = await egress.fetch(`${server.origin}/endless?id=endless`, { maxBytes });
    expect(res.status).toBe(200);
    const err = await rejection(res.arrayBuffer());
    expect(err).toBeInstanceOf(FetchTooLargeError);
    expect(err).toMatchObject({ code: "fetch_too_large", maxBytes });
    expect((err as FetchTooLargeError).seenBytes).toBeLessThanOrEqual(maxBytes + CHUNK * 4);
    const outcome = await outcomes.get("endless")!;
    expect(outcome.finished).toBe(false);
    // What the kernel's socket buffers held beyond the cap, not the 256 MiB the server would have sent.
    expect(outcome.written).toBeLessThan(8 * 1024 * 1024);
  });

  it("hands the caller chunks as they come: a reader sees data before the cap trips", async () => {
    const res = await egress.fetch(`${server.origin}/endless?id=reader`, { maxBytes: 4 * CHUNK });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    let err: unknown;
    try {
      for (;;) if ((await reader.read()).done) break;
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FetchTooLargeError);
    expect((await outcomes.get("reader")!).finished).toBe(false);
  });

  it("refuses an announced Content-Length over the cap before reading any of it", async () => {
    const err = await rejection(
      egress.fetch(`${server.origin}/sized?id=sized&bytes=${1024 * 1024}`, { maxBytes: 1000 }),
    );
    expect(err).toBeInstanceOf(FetchTooLargeError);
    expect(err).toMatchObject({ seenBytes: 1024 * 1024 });
  });

  it("counts decompressed bytes, so a small gzip body that inflates past the cap fails", async () => {
    const res = await egress.fetch(`${server.origin}/gzip`, { maxBytes: 64 * 1024 });
    await expect(res.arrayBuffer()).rejects.toBeInstanceOf(FetchTooLargeError);
  });

  it("passes a body of exactly the cap", async () => {
    const res = await egress.fetch(`${server.origin}/sized?id=exact&bytes=${3 * CHUNK}`, { maxBytes: 3 * CHUNK });
    expect((await res.arrayBuffer()).byteLength).toBe(3 * CHUNK);
  });
});

describe("the total time is capped", () => {
  it("fails a body that trickles in past the time cap, though headers came at once", async () => {
    const started = Date.now();
    const res = await egress.fetch(`${server.origin}/drip?id=drip`, { timeoutMs: 600 });
    expect(res.status).toBe(200);
    const err = await rejection(res.text());
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(FetchTimeoutError);
    expect(err).toMatchObject({ code: "fetch_timeout", timeoutMs: 600 });
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(5_000);
    expect((await outcomes.get("drip")!).finished).toBe(false);
  });

  it("fails a server that never answers", async () => {
    const err = await rejection(egress.fetch(`${server.origin}/silent`, { timeoutMs: 300 }));
    expect(err).toBeInstanceOf(FetchTimeoutError);
  });

  it("lets the caller's own abort through as the caller's reason", async () => {
    const caller = new AbortController();
    const reason = new Error("shutting down");
    setTimeout(() => caller.abort(reason), 100);
    const err = await rejection(egress.fetch(`${server.origin}/silent`, { signal: caller.signal, timeoutMs: 5_000 }));
    expect(err).toBe(reason);
  });

  it("refuses a limit that is not a whole number of at least 0", async () => {
    await expect(egress.fetch(server.origin, { maxBytes: -1 })).rejects.toBeInstanceOf(RangeError);
    await expect(egress.fetch(server.origin, { timeoutMs: Number.NaN })).rejects.toBeInstanceOf(RangeError);
  });
});
