import { waitFor } from "@tessera/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startAdminServer } from "../../src/http/admin-server.js";
import { SSE_HEARTBEAT_MS } from "../../src/http/routes/events.js";
import type { JobEvent, SubmitOutcome } from "../../src/types.js";
import { embedded, spec } from "../harness.js";
import { makeCoordinator, type CoordinatorUnderTest } from "./coordinator-under-test.js";

let env: CoordinatorUnderTest;
beforeAll(async () => {
  env = await makeCoordinator();
});
afterAll(() => env.close());
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

interface EventStream {
  status: number;
  contentType: string | null;
  /** Reads until `predicate` holds for everything received so far. */
  until(what: string, predicate: (received: string) => boolean): Promise<string>;
  close(): void;
}

async function openStream(baseUrl: string, query = ""): Promise<EventStream> {
  const abort = new AbortController();
  const res = await fetch(`${baseUrl}/api/v1/events${query}`, { signal: abort.signal });
  const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  let received = "";
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    async until(what, predicate) {
      const deadline = Date.now() + 5_000;
      while (!predicate(received)) {
        const timeout = new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new Error(`no ${what} within 5 s; received: ${JSON.stringify(received)}`)),
            Math.max(0, deadline - Date.now()),
          ),
        );
        const chunk = await Promise.race([reader.read(), timeout]);
        if (chunk.done) throw new Error(`the stream ended before ${what}; received: ${JSON.stringify(received)}`);
        received += chunk.value;
      }
      return received;
    },
    close: () => abort.abort(),
  };
}

function jobEvents(received: string): JobEvent[] {
  return received
    .split("\n\n")
    .filter((block) => block.startsWith("event: job\n"))
    .map((block) => JSON.parse(block.slice(block.indexOf("data: ") + "data: ".length)) as JobEvent);
}

async function submit(component: string): Promise<string> {
  const res = await env.admin.app.inject({
    method: "POST",
    url: "/api/v1/jobs",
    payload: { component, input: { json: 1 } },
  });
  return (res.json() as SubmitOutcome).jobId;
}

describe("GET /api/v1/events", () => {
  it("delivers a job event after a submit, only for the component asked for", async () => {
    const stream = await openStream(env.admin.url, "?component=idle");
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    await stream.until("the subscribed comment", (r) => r.startsWith(": subscribed\n\n"));
    const other = await submit("echo");
    const jobId = await submit("idle");
    const received = await stream.until("the idle job's event", (r) => r.includes(jobId));
    stream.close();
    // The relay may already have published it: `queued` can follow.
    expect(jobEvents(received)[0]).toEqual({
      jobId,
      component: "idle",
      state: "pending",
      reasonCode: null,
      at: expect.any(String),
    });
    expect(jobEvents(received).every((e) => e.jobId === jobId)).toBe(true);
    expect(received).not.toContain(other);
  });

  it("follows one job to its end with ?jobId", async () => {
    const jobId = await submit("idle");
    const stream = await openStream(env.admin.url, `?jobId=${jobId}`);
    await stream.until("the subscribed comment", (r) => r.includes(": subscribed"));
    await submit("idle");
    await env.admin.app.inject({ method: "POST", url: `/api/v1/jobs/${jobId}/cancel` });
    const received = await stream.until("the cancelled event", (r) => r.includes('"cancelled"'));
    stream.close();
    expect(jobEvents(received).every((e) => e.jobId === jobId)).toBe(true);
  });

  it("unsubscribes when the client disconnects", async () => {
    const unsubscribed = vi.fn();
    const subscribe = env.coordinator.onJobEvent.bind(env.coordinator);
    vi.spyOn(env.coordinator, "onJobEvent").mockImplementation((listener) => {
      const off = subscribe(listener);
      return () => {
        unsubscribed();
        off();
      };
    });
    const stream = await openStream(env.admin.url);
    await stream.until("the subscribed comment", (r) => r.includes(": subscribed"));
    expect(unsubscribed).not.toHaveBeenCalled();
    stream.close();
    await waitFor("the listener removed", () => unsubscribed.mock.calls.length === 1, 5_000);
  });

  it("sends a comment heartbeat every 15 s", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const stream = await openStream(env.admin.url);
    await stream.until("the subscribed comment", (r) => r.includes(": subscribed"));
    vi.advanceTimersByTime(SSE_HEARTBEAT_MS);
    await stream.until("a heartbeat", (r) => r.includes(": heartbeat\n\n"));
    stream.close();
  });

  it("does not keep close() waiting on an open stream", async () => {
    const admin = await startAdminServer(env.coordinator);
    const stream = await openStream(admin.url);
    await stream.until("the subscribed comment", (r) => r.includes(": subscribed"));
    await admin.close();
    await expect(stream.until("the end of the stream", () => false)).rejects.toThrow(/ended/);
  });

  it("refuses an unknown filter with a 400", async () => {
    const res = await env.admin.app.inject({ method: "GET", url: "/api/v1/events?job=x" });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: "invalid_request", issues: [{ path: "query.job" }] } });
  });

  it("caps the streams open at once: one more is a 503 with Retry-After, and a closed one frees its place", async () => {
    const admin = await startAdminServer(env.coordinator, { maxEventStreams: 2 });
    try {
      const open = [await openStream(admin.url), await openStream(admin.url)];
      for (const stream of open) await stream.until("the subscribed comment", (r) => r.includes(": subscribed"));
      const refused = await fetch(`${admin.url}/api/v1/events`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBe("5");
      expect(await refused.json()).toMatchObject({
        error: { code: "unavailable", message: expect.stringContaining("admin.maxEventStreams") as unknown },
      });
      open[0]?.close();
      const again = await waitFor(
        "a place to free up",
        async () => {
          const stream = await openStream(admin.url);
          if (stream.status === 200) return stream;
          stream.close();
          return undefined;
        },
        5_000,
      );
      again.close();
      open[1]?.close();
    } finally {
      await admin.close();
    }
  });

  it("takes the cap from TESSERA_ADMIN_MAX_EVENT_STREAMS", async () => {
    const local = await embedded({ memory: true }, [{ name: "idle", spec: spec() }], {
      env: { TESSERA_ADMIN_MAX_EVENT_STREAMS: "1" },
    });
    const admin = await startAdminServer(local.coordinator);
    try {
      const first = await openStream(admin.url);
      await first.until("the subscribed comment", (r) => r.includes(": subscribed"));
      expect((await fetch(`${admin.url}/api/v1/events`)).status).toBe(503);
      first.close();
    } finally {
      await admin.close();
      await local.close();
    }
  });
});
