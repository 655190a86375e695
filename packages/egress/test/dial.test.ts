import fc from "fast-check";
import { request } from "undici";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { compilePolicy, createEgress, EgressDeniedError, FetchNetworkError, type Egress } from "../src/index.js";
import { createGuardedAgent } from "../src/dial-guard.js";
import { ipv4Spelling, loopbackIPv4 } from "./encodings.js";
import { forbidNonLoopbackDials, rejection, scriptedResolver, startServer, type TestServer } from "./helpers.js";

let server: TestServer;
const egresses: Egress[] = [];
const open = (...args: Parameters<typeof createEgress>) => {
  const egress = createEgress(...args);
  egresses.push(egress);
  return egress;
};

beforeAll(async () => {
  server = await startServer((req, res) => {
    if (req.url !== "/reset") return res.end("hello");
    res.write("partial ");
    setTimeout(() => res.socket?.destroy(), 20);
  });
});
afterAll(() => server.close());
beforeEach(() => forbidNonLoopbackDials());
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(egresses.splice(0).map((e) => e.close()));
});

const onlyTheServer = () => ({ cidrs: ["127.0.0.1/32"], ports: [{ port: server.port }] });

async function denied(promise: Promise<unknown>): Promise<EgressDeniedError> {
  const err = await rejection(promise);
  expect(err).toBeInstanceOf(EgressDeniedError);
  expect(err).toMatchObject({ code: "egress_denied" });
  return err as EgressDeniedError;
}

describe("an explicitly allowed loopback server", () => {
  it("is reached by address and by a name that resolves to it", async () => {
    const egress = open({ allow: onlyTheServer(), resolve: scriptedResolver({ "app.test": [["127.0.0.1"]] }) });
    const byAddress = await egress.fetch(`${server.origin}/a`);
    expect([byAddress.status, await byAddress.text(), byAddress.url]).toEqual([200, "hello", `${server.origin}/a`]);
    const byName = await egress.fetch(`http://app.test:${server.port}/b`);
    expect(await byName.text()).toBe("hello");
  });

  it("opens nothing else: another port, another loopback address, IPv6 loopback", async () => {
    const egress = open({ allow: onlyTheServer(), resolve: scriptedResolver({ "v6.test": [["::1"]] }) });
    const before = server.connections;
    expect(await denied(egress.fetch(`http://127.0.0.1:${server.port + 1}/`))).toMatchObject({ rule: "port" });
    expect(await denied(egress.fetch(`http://127.0.0.2:${server.port}/`))).toMatchObject({
      rule: "address_class",
      addressClass: "loopback",
    });
    expect(await denied(egress.fetch(`http://[::1]:${server.port}/`))).toMatchObject({ addressClass: "loopback" });
    expect(await denied(egress.fetch(`http://v6.test:${server.port}/`))).toMatchObject({ addressClass: "loopback" });
    expect(server.connections).toBe(before);
  });

  it("is reached by every spelling of 127.0.0.1, since the URL parser normalizes them", async () => {
    const egress = open({ allow: onlyTheServer() });
    await fc.assert(
      fc.asyncProperty(ipv4Spelling("127.0.0.1"), async ({ host }) => {
        const res = await egress.fetch(`http://${host}:${server.port}/`);
        expect(await res.text()).toBe("hello");
      }),
      { numRuns: 25 },
    );
  });
});

describe("with the default policy (public internet only)", () => {
  it("refuses every spelling of a loopback address before connecting", async () => {
    const egress = open();
    const before = server.connections;
    await fc.assert(
      fc.asyncProperty(
        loopbackIPv4.chain((a) => ipv4Spelling(a)),
        async ({ host }) => {
          const err = await denied(egress.fetch(`http://${host}:${server.port}/`));
          expect(err.addressClass).toBe("loopback");
        },
      ),
      { numRuns: 50 },
    );
    expect(server.connections).toBe(before);
  });

  it("refuses a name at dial time when it resolves to loopback", async () => {
    const resolve = scriptedResolver({ "local.test": [["127.0.0.1"]] });
    const before = server.connections;
    const err = await denied(open({ resolve }).fetch(`http://local.test:${server.port}/`));
    expect(err).toMatchObject({ host: "local.test", address: "127.0.0.1", addressClass: "loopback" });
    expect(resolve.calls).toEqual(["local.test"]);
    expect(server.connections).toBe(before);
  });
});

describe("DNS rebinding", () => {
  it("refuses the dial when the name answers a public address to a check and 127.0.0.1 to the dial", async () => {
    const resolve = scriptedResolver({ "rebind.test": [["93.184.216.34"], ["127.0.0.1"]] });
    const egress = open({ resolve });
    const url = `http://rebind.test:${server.port}/`;
    // A guard that checked here and let the connection resolve again would be fooled.
    expect(await egress.check(url)).toEqual([{ addressClass: "public", address: "93.184.216.34" }]);
    expect(resolve.calls).toHaveLength(1); // so the dial gets the second answer, never the public one
    const before = server.connections;
    expect(await denied(egress.fetch(url))).toMatchObject({ address: "127.0.0.1", addressClass: "loopback" });
    expect(resolve.calls).toHaveLength(2);
    expect(server.connections).toBe(before);
  });

  it("refuses a name when any of its answers is denied, not only the first", async () => {
    const resolve = scriptedResolver({ "mixed.test": [["127.0.0.1", "127.0.0.2"]] });
    const err = await denied(open({ allow: onlyTheServer(), resolve }).fetch(`http://mixed.test:${server.port}/`));
    expect(err).toMatchObject({ address: "127.0.0.2", addressClass: "loopback" });
  });

  it("refuses an answer that is not an address as a socket would take it", async () => {
    const resolve = scriptedResolver({ "odd.test": [["0x7f.1"]] });
    const err = await denied(open({ allow: onlyTheServer(), resolve }).fetch(`http://odd.test:${server.port}/`));
    expect(err.addressClass).toBe("invalid");
  });
});

describe("the dial-time guard on its own", () => {
  it("checks IP-literal hosts, for which net.connect calls no lookup", async () => {
    const agent = createGuardedAgent(compilePolicy(), scriptedResolver({}));
    const before = server.connections;
    try {
      for (const host of ["127.0.0.1", "[::ffff:127.0.0.1]", "[::1]"]) {
        const err = await rejection(request(`http://${host}:${server.port}/`, { dispatcher: agent }));
        expect(err).toBeInstanceOf(EgressDeniedError);
        expect(err).toMatchObject({ addressClass: "loopback" });
      }
    } finally {
      await agent.close();
    }
    expect(server.connections).toBe(before);
  });
});

describe("network failures", () => {
  it("are fetch_network errors naming the cause", async () => {
    const closed = await startServer(() => undefined);
    const port = closed.port;
    await closed.close();
    const egress = open({ allow: { cidrs: ["127.0.0.1/32"] }, resolve: scriptedResolver({}) });
    const refused = await rejection(egress.fetch(`http://127.0.0.1:${port}/`));
    expect(refused).toBeInstanceOf(FetchNetworkError);
    expect(refused).toMatchObject({ code: "fetch_network" });
    expect((refused as Error).message).toContain("ECONNREFUSED");
    const unknown = await rejection(egress.fetch(`http://nowhere.test:${port}/`));
    expect((unknown as Error).message).toContain("ENOTFOUND");
  });

  it("include a connection that breaks in the middle of the body", async () => {
    const res = await open({ allow: onlyTheServer() }).fetch(`${server.origin}/reset`);
    expect(res.status).toBe(200);
    const err = await rejection(res.text());
    expect(err).toBeInstanceOf(FetchNetworkError);
    expect(err).toMatchObject({ code: "fetch_network" });
  });
});
