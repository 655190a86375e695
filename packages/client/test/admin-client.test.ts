import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  AdminApiError,
  AdminClient,
  CoordinatorUnreachableError,
  UnexpectedAnswerError,
  type ErrorBody,
  type JobEvent,
} from "../src/index.js";

/*
 * The client against a stand-in server (the real coordinator is exercised through the CLI's tests): what it
 * sends, and how each kind of answer becomes a value or an error.
 */

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function serve(handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => handler(req, res, body));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

describe("AdminClient", () => {
  it("sends the token, the query and the body, and answers with the typed body", async () => {
    const seen: { method?: string; url?: string; auth?: string; body?: string }[] = [];
    const url = await serve((req, res, body) => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
      if (req.url?.startsWith("/api/v1/jobs?")) json(res, 200, { items: [], nextCursor: null });
      else json(res, 201, { jobId: "j1", created: true, state: "pending" });
    });
    const client = new AdminClient(url, { token: "s3cret" });

    expect(await client.submit({ component: "extract", input: { text: "hi" } })).toEqual({
      jobId: "j1",
      created: true,
      state: "pending",
    });
    expect(await client.listJobs({ state: "failed", limit: 10 })).toEqual({ items: [], nextCursor: null });
    expect(seen).toEqual([
      {
        method: "POST",
        url: "/api/v1/jobs",
        auth: "Bearer s3cret",
        body: JSON.stringify({ component: "extract", input: { text: "hi" } }),
      },
      { method: "GET", url: "/api/v1/jobs?state=failed&limit=10", auth: "Bearer s3cret", body: "" },
    ]);
  });

  it("turns an error body into AdminApiError with the server's code, message, issues and reason", async () => {
    const conflict: ErrorBody = {
      error: { code: "conflict", message: "job j1 is completed", reason: "already_finished" },
    };
    const invalid: ErrorBody = {
      error: {
        code: "invalid_request",
        message: "invalid request",
        issues: [{ path: "query.limit", expected: "an integer", received: '"x"' }],
      },
    };
    const url = await serve((req, res) =>
      req.url?.includes("cancel") ? json(res, 409, conflict) : json(res, 400, invalid),
    );
    const client = new AdminClient(url);

    const cancelled = await client.cancel("j1").catch((err: unknown) => err);
    expect(cancelled).toBeInstanceOf(AdminApiError);
    expect(cancelled).toMatchObject({
      status: 409,
      code: "conflict",
      reason: "already_finished",
      message: "job j1 is completed",
      request: "POST /api/v1/jobs/j1/cancel",
      serverMessage: "job j1 is completed",
    });
    await expect(client.job("j1")).rejects.toMatchObject({
      code: "invalid_request",
      issues: [{ path: "query.limit", expected: "an integer", received: '"x"' }],
    });
  });

  it("without an error body (a proxy's page), takes the code from the status, and 413 names the limit", async () => {
    const url = await serve((req, res) =>
      res.writeHead(req.method === "POST" ? 413 : 502, { "content-type": "text/html" }).end("<html>nope</html>"),
    );
    const client = new AdminClient(url);
    await expect(client.job("j1")).rejects.toMatchObject({
      status: 502,
      code: "internal",
      message: `GET /api/v1/jobs/j1 at ${url} answered HTTP 502`,
      serverMessage: undefined,
    });
    await expect(client.submit({ component: "c", input: { text: "x" } })).rejects.toMatchObject({
      code: "payload_too_large",
      message: "POST /api/v1/jobs: too large (limit 16 MiB per request)",
    });
  });

  it("an answer that is not JSON is UnexpectedAnswerError; no answer at all is CoordinatorUnreachableError", async () => {
    const url = await serve((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>"));
    await expect(new AdminClient(url).components()).rejects.toBeInstanceOf(UnexpectedAnswerError);

    const gone = await serve((_req, res) => res.end());
    await new Promise((resolve) => servers.pop()?.close(resolve));
    const err = await new AdminClient(gone).components().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoordinatorUnreachableError);
    expect((err as CoordinatorUnreachableError).message).toBe(`cannot reach the coordinator at ${gone} (ECONNREFUSED)`);
  });

  it("events() yields the job events of the stream and ends when closed", async () => {
    const event: JobEvent = {
      jobId: "j1",
      component: "c",
      state: "completed",
      reasonCode: null,
      at: "2025-01-01T00:00:00.000Z",
    };
    const url = await serve((req, res) => {
      expect(req.url).toBe("/api/v1/events?jobId=j1");
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`: hello\n\nevent: other\ndata: {}\n\nevent: job\ndata: ${JSON.stringify(event)}\n\n`);
    });
    const stream = await new AdminClient(url).events({ jobId: "j1" });
    const seen: JobEvent[] = [];
    for await (const e of stream) {
      seen.push(e);
      break;
    }
    stream.close();
    expect(seen).toEqual([event]);
  });
});
