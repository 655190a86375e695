import { randomBytes } from "node:crypto";
import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createInProcessBus } from "@tessera/bus";
import { keyFileSource, type ProviderApi, type ProviderConfig } from "@tessera/connectors";
import { createEgress, type Egress } from "@tessera/egress";
import { FaultProxy, OAuthTestServer, startPostgres, type PostgresHandle } from "@tessera/testkit";
import { pino, type Logger } from "pino";
import { afterAll, afterEach, beforeAll } from "vitest";
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

/** What a connections test file talks to: started once for the file, stopped after it. */
export interface ConnectorServers {
  readonly postgres: PostgresHandle;
  readonly auth: OAuthTestServer;
  /** In front of the token and revocation endpoints, so a test can inject faults (cleared after each test). */
  readonly proxy: FaultProxy;
  /** Closes `things` after the current test, the last kept first. */
  keep(...things: Array<{ close(): Promise<unknown> }>): void;
}

/** Registers the file's hooks: Postgres, the authorization server and its proxy for the file; faults cleared and what was kept closed after each test. */
export function useConnectorServers(): ConnectorServers {
  let postgres: PostgresHandle | undefined;
  let auth: OAuthTestServer | undefined;
  let proxy: FaultProxy | undefined;
  const kept: Array<{ close(): Promise<unknown> }> = [];
  const started = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`the ${name} is not started (use it inside a test)`);
    return value;
  };
  beforeAll(async () => {
    [postgres, auth] = await Promise.all([startPostgres(), OAuthTestServer.start()]);
    proxy = await FaultProxy.start(auth.issuer);
  }, 120_000);
  afterAll(async () => {
    await proxy?.stop();
    await auth?.stop();
    await postgres?.stop();
  });
  afterEach(async () => {
    proxy?.clear();
    for (const thing of kept.splice(0).reverse()) await thing.close();
  });
  return {
    get postgres() {
      return started(postgres, "Postgres server");
    },
    get auth() {
      return started(auth, "authorization server");
    },
    get proxy() {
      return started(proxy, "fault proxy");
    },
    keep: (...things) => void kept.push(...things),
  };
}
