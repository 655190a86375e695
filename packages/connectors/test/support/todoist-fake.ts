import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

interface Item {
  id: string;
  content: string;
  checked: boolean;
  is_deleted: boolean;
  updated_at: string;
  /** The change counter when this item last changed: what sync tokens are compared with. */
  seq: number;
}

/**
 * Todoist's OAuth and API v1 as the connector uses them, on 127.0.0.1: authorize (redirects with a code),
 * access_token (code for a token that never expires, no refresh token), sync by sync_token, close a task, and
 * revoke a token with the app's credentials.
 */
export class TodoistFake {
  readonly tokens = new Set<string>();
  readonly codes = new Map<string, string>();
  readonly items = new Map<string, Item>();
  readonly log: string[] = [];
  /** The authorization requests' scope parameters, as sent. */
  readonly scopes: string[] = [];
  private seq = 0;

  private constructor(
    private readonly server: Server,
    readonly origin: string,
    readonly client: { clientId: string; clientSecret: string },
  ) {}

  static async start(client: { clientId: string; clientSecret: string }): Promise<TodoistFake> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const fake = new TodoistFake(server, `http://127.0.0.1:${address.port}`, client);
    server.on("request", (req: IncomingMessage, res: ServerResponse) => void fake.handle(req, res));
    return fake;
  }

  get endpoints() {
    return {
      authorizationEndpoint: `${this.origin}/oauth/authorize`,
      tokenEndpoint: `${this.origin}/oauth/access_token`,
      apiBase: `${this.origin}/api/v1/`,
    };
  }

  upsert(id: string, content: string): void {
    this.items.set(id, {
      id,
      content,
      checked: false,
      is_deleted: false,
      updated_at: new Date().toISOString(),
      seq: ++this.seq,
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.origin);
    this.log.push(`${req.method} ${url.pathname}`);
    const body = await bodyOf(req);
    const json = (status: number, value?: unknown) => {
      res.writeHead(status, value === undefined ? {} : { "content-type": "application/json" });
      res.end(value === undefined ? undefined : JSON.stringify(value));
    };
    if (req.method === "GET" && url.pathname === "/oauth/authorize") {
      const code = randomUUID();
      this.codes.set(code, url.searchParams.get("client_id") ?? "");
      this.scopes.push(url.searchParams.get("scope") ?? "");
      const back = new URL(url.searchParams.get("redirect_uri")!);
      back.searchParams.set("code", code);
      back.searchParams.set("state", url.searchParams.get("state") ?? "");
      res.writeHead(302, { location: back.href });
      return void res.end();
    }
    if (req.method === "POST" && url.pathname === "/oauth/access_token") {
      const form = new URLSearchParams(body);
      const code = form.get("code") ?? "";
      const okClient =
        form.get("client_id") === this.client.clientId && form.get("client_secret") === this.client.clientSecret;
      if (!okClient || this.codes.get(code) !== this.client.clientId) return json(400, { error: "invalid_grant" });
      this.codes.delete(code);
      const token = randomUUID().replaceAll("-", "");
      this.tokens.add(token);
      return json(200, { access_token: token, token_type: "Bearer" });
    }
    if (req.method === "POST" && url.pathname === "/api/v1/access_tokens/revoke") {
      const form = JSON.parse(body) as Record<string, string>;
      if (form["client_id"] !== this.client.clientId || form["client_secret"] !== this.client.clientSecret)
        return json(401);
      this.tokens.delete(form["access_token"] ?? "");
      return json(204);
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (token === undefined || !this.tokens.has(token)) return json(401, { error: "Unauthorized" });
    if (req.method === "POST" && url.pathname === "/api/v1/sync") {
      const syncToken = new URLSearchParams(body).get("sync_token") ?? "*";
      const after = syncToken === "*" ? 0 : Number(syncToken.replace(/^st-/, ""));
      const items = [...this.items.values()].filter((i) => i.seq > after).map(({ seq: _seq, ...item }) => item);
      return json(200, { sync_token: `st-${this.seq}`, full_sync: syncToken === "*", items, projects: [] });
    }
    const close = /^\/api\/v1\/tasks\/([^/]+)\/close$/.exec(url.pathname);
    if (req.method === "POST" && close !== null) {
      const item = this.items.get(decodeURIComponent(close[1]!));
      if (item === undefined) return json(404);
      item.checked = true;
      item.updated_at = new Date().toISOString();
      item.seq = ++this.seq;
      return json(204);
    }
    json(404);
  }
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
