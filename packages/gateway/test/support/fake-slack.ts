import { createServer, type IncomingMessage, type Server } from "node:http";

/** One scripted answer; once the script of a channel is used up, the fake answers like Slack does on success. */
export type FakeAnswer = { status: number; retryAfter?: number; body?: unknown } | { slackError: string };

export interface FakeCall {
  method: string;
  channel: string;
  body: Record<string, unknown>;
  authorization: string | undefined;
  atMs: number;
}

/**
 * A local stand-in for Slack's Web API (chat.postMessage, chat.update): checks the bearer token, answers
 * `{ok: true, ts}` or what the test scripted for a channel (a 429 with Retry-After, a 500, `{ok: false}`).
 */
export class FakeSlack {
  readonly calls: FakeCall[] = [];
  private readonly scripts = new Map<string, FakeAnswer[]>();
  private server!: Server;
  private seq = 0;
  url = "";

  /** `token`: the one bot token it accepts, or a check (tokens an authorization server issued). */
  constructor(private readonly token: string | ((bearer: string) => boolean)) {}

  private accepts(authorization: string | undefined): boolean {
    if (typeof this.token === "string") return authorization === `Bearer ${this.token}`;
    return authorization?.startsWith("Bearer ") === true && this.token(authorization.slice("Bearer ".length));
  }

  script(channel: string, answers: FakeAnswer[]): void {
    this.scripts.set(channel, [...answers]);
  }

  callsTo(channel: string): FakeCall[] {
    return this.calls.filter((c) => c.channel === channel);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void readJson(req).then((body) => {
        const method = (req.url ?? "").replace(/^\/api\//, "");
        const channel = String(body["channel"] ?? "");
        this.calls.push({ method, channel, body, authorization: req.headers.authorization, atMs: performance.now() });
        const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { "content-type": "application/json", ...headers });
          res.end(JSON.stringify(payload));
        };
        if (!this.accepts(req.headers.authorization)) return send(200, { ok: false, error: "invalid_auth" });
        const next = this.scripts.get(channel)?.shift();
        if (next === undefined) {
          const ts =
            method === "chat.update" ? String(body["ts"]) : `1765000000.${String(++this.seq).padStart(6, "0")}`;
          return send(200, { ok: true, channel, ts });
        }
        if ("slackError" in next) return send(200, { ok: false, error: next.slackError });
        send(
          next.status,
          next.body ?? { ok: false },
          next.retryAfter !== undefined ? { "retry-after": String(next.retryAfter) } : {},
        );
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    this.url = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
  } catch {
    return {};
  }
}
