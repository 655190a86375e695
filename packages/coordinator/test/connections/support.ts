import { randomBytes } from "node:crypto";
import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createInProcessBus } from "@tessera/bus";
import { keyFileSource, type ProviderApi, type ProviderConfig } from "@tessera/connectors";
import { createEgress, type Egress } from "@tessera/egress";
import type { OAuthTestServer } from "@tessera/testkit";
import { pino, type Logger } from "pino";
import { createCoordinator } from "../../src/create-coordinator.js";
import type { DatabaseOption } from "../../src/store/open-storage.js";
import type { Coordinator } from "../../src/types.js";

export const CLIENT = {
  clientId: "tesseratest",
  clientSecret: "client-secret-5d1e",
  redirectUri: "http://127.0.0.1:1/cb",
};

/** A clock the connectors of every coordinator in a test share; a backoff wait moves it instead of waiting. */
export class SharedClock {
  at = Date.now();
  now = () => this.at;
  sleep = async (ms: number) => {
    this.at += ms;
  };
}

/** A key file on disk, rewritten (with a new modification time) as an operator would during a rotation. */
export class KeyFile {
  private constructor(
    readonly dir: string,
    readonly path: string,
  ) {}

  static async create(...entries: string[]): Promise<KeyFile> {
    const dir = await mkdtemp(join(tmpdir(), "tessera-keys-"));
    const file = new KeyFile(dir, join(dir, "keys"));
    await file.write(...entries);
    return file;
  }

  async write(...entries: string[]): Promise<void> {
    await writeFile(this.path, `${entries.join("\n")}\n`, { mode: 0o600 });
    // Coordinators notice a change by modification time and size; make the time move for certain.
    const later = new Date(Date.now() + Math.floor(Math.random() * 1e6));
    await utimes(this.path, later, later);
  }

  close(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }
}

export const keyEntry = (id: string) => `${id}:${randomBytes(32).toString("base64")}`;

/** The generic test provider on the test authorization server (token and revocation through `tokenOrigin`). */
export function mockProvider(auth: OAuthTestServer, tokenOrigin: string): { config: ProviderConfig; api: ProviderApi } {
  return {
    config: auth.providerConfig("mock", tokenOrigin),
    api: {
      // One page: the server's userinfo, read with the user's token (a 401 would refresh and repeat).
      async *sync(ctx) {
        const res = await ctx.fetch(`${auth.issuer}/userinfo`);
        if (res.status !== 200) throw new Error(`userinfo: HTTP ${res.status}`);
        const body = (await res.json()) as { sub: string };
        yield {
          events: [{ kind: "account.seen", sourceId: body.sub, occurredAt: new Date(0).toISOString(), data: {} }],
          cursor: "1",
        };
      },
    },
  };
}

/** A pino logger at trace level into memory: every line any part of the coordinator logs. */
export function capturedLogger(): { logger: Logger; text: () => string } {
  let text = "";
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString("utf8");
      done();
    },
  });
  return { logger: pino({ level: "trace" }, sink), text: () => text };
}

export interface ConnectorCoordinator {
  coordinator: Coordinator;
  egress: Egress;
  close(): Promise<void>;
}

/** A coordinator on `database` (a Postgres URL, or any store) with the mock provider configured, its vault keys from `keys`. */
export async function coordinatorWithConnectors(
  database: string | DatabaseOption,
  provider: ReturnType<typeof mockProvider>,
  keys: KeyFile,
  clock: SharedClock,
  logger: Logger = pino({ level: "silent" }),
): Promise<ConnectorCoordinator> {
  const egress = createEgress({ allow: { cidrs: ["127.0.0.1/32"] } });
  const bus = createInProcessBus();
  const coordinator = await createCoordinator({
    bus,
    components: [],
    database: typeof database === "string" ? { url: database } : database,
    env: {},
    logger,
    connectors: {
      providers: [{ provider, client: CLIENT }],
      keys: keyFileSource(keys.path),
      egress,
      allowInsecureRequests: true,
      now: clock.now,
      sleep: clock.sleep,
    },
  });
  return {
    coordinator,
    egress,
    async close() {
      await coordinator.close();
      await bus.close();
      await egress.close();
    },
  };
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
