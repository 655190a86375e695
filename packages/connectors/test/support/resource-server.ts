import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { ProviderApi } from "../../src/index.js";
import type { OAuthTestServer } from "@tessera/testkit";

/**
 * A provider's API for the generic test provider: `GET /events?after=<n>` answers the events after n (one page
 * of up to 2) to a bearer token the authorization server says is live, 401 otherwise.
 */
export class ResourceServer {
  readonly seen: string[] = [];
  events = ["e1", "e2", "e3"];

  private constructor(
    private readonly server: Server,
    readonly origin: string,
  ) {}

  static async start(auth: OAuthTestServer): Promise<ResourceServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const self = new ResourceServer(server, `http://127.0.0.1:${address.port}`);
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? "";
      self.seen.push(token);
      if (!auth.accessTokenLive(token)) {
        res.writeHead(401, { "www-authenticate": 'Bearer error="invalid_token"' });
        return void res.end();
      }
      const after = Number(new URL(req.url ?? "/", "http://x").searchParams.get("after") ?? 0);
      const page = self.events.slice(after, after + 2);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ events: page, next: after + page.length, more: after + page.length < self.events.length }),
      );
    });
    return self;
  }

  /** The API as a connector calls it: pages until `more` is false, each event a `task.upserted`. */
  api(): ProviderApi {
    const origin = this.origin;
    return {
      async *sync(ctx, cursor) {
        let after = Number(cursor ?? 0);
        for (;;) {
          const res = await ctx.fetch(`${origin}/events?after=${after}`);
          if (res.status !== 200) throw new Error(`events: HTTP ${res.status}`);
          const body = (await res.json()) as { events: string[]; next: number; more: boolean };
          yield {
            events: body.events.map((id) => ({
              kind: "task.upserted",
              sourceId: id,
              occurredAt: new Date(0).toISOString(),
              data: {},
            })),
            cursor: String(body.next),
          };
          if (!body.more) return;
          after = body.next;
        }
      },
    };
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
