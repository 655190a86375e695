import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createEgress,
  EgressDeniedError,
  FetchTooManyRedirectsError,
  FetchUrlError,
  type Egress,
} from "../src/index.js";
import { forbidNonLoopbackDials, rejection, scriptedResolver, startServer, type TestServer } from "./helpers.js";

let site: TestServer;
let other: TestServer;
let egress: Egress;

beforeAll(async () => {
  site = await startServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/to") {
      const loc = url.searchParams.get("loc");
      res.writeHead(Number(url.searchParams.get("status") ?? 302), loc === null ? {} : { location: loc });
      return res.end("moved");
    }
    const hops = /^\/chain\/(\d+)$/.exec(url.pathname);
    if (hops !== null && Number(hops[1]) > 0) {
      res.writeHead(302, { location: `/chain/${Number(hops[1]) - 1}` });
      return res.end();
    }
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () =>
      res.end(
        JSON.stringify({ path: url.pathname, method: req.method, auth: req.headers.authorization ?? null, body }),
      ),
    );
  });
  other = await startServer((_req, res) => res.end("other"));
  egress = createEgress({
    allow: { cidrs: ["127.0.0.1/32"], ports: [{ port: site.port }] },
    resolve: scriptedResolver({ "site.test": [["127.0.0.1"]], "inner.test": [["::1"]] }),
  });
});
afterAll(async () => {
  await egress.close();
  await Promise.all([site.close(), other.close()]);
});
beforeEach(() => forbidNonLoopbackDials());
afterEach(() => vi.restoreAllMocks());

const redirectTo = (location: string, status = 302) =>
  `${site.origin}/to?status=${status}&loc=${encodeURIComponent(location)}`;

describe("every redirect is checked again", () => {
  it.each([
    ["another port of the allowed address", () => `http://127.0.0.1:${other.port}/`, { rule: "port" }],
    ["another loopback address", () => `http://127.0.0.2:${site.port}/`, { addressClass: "loopback" }],
    ["a name that resolves to a denied address", () => `http://inner.test:${site.port}/`, { addressClass: "loopback" }],
    ["the metadata service", () => "http://169.254.169.254/latest/meta-data/", { addressClass: "metadata" }],
    ["the metadata service, IPv4-mapped", () => "http://[::ffff:a9fe:a9fe]/", { addressClass: "metadata" }],
    ["the metadata service, in decimal", () => "http://2852039166/", { addressClass: "metadata" }],
    ["a private address", () => "http://10.0.0.1/", { addressClass: "private" }],
  ])("refuses a redirect to %s", async (_what, location, expected) => {
    const before = other.connections;
    const err = await rejection(egress.fetch(redirectTo(location())));
    expect(err).toBeInstanceOf(EgressDeniedError);
    expect(err).toMatchObject({ code: "egress_denied", ...expected });
    expect(other.connections).toBe(before);
  });

  it.each([
    "file:///etc/passwd",
    "ftp://127.0.0.1/",
    "gopher://127.0.0.1:70/_",
    "data:text/plain,x",
    "dict://x:11211/",
  ])("refuses a redirect to the scheme of %s", async (location) => {
    const err = await rejection(egress.fetch(redirectTo(location)));
    expect(err).toBeInstanceOf(FetchUrlError);
    expect(err).toMatchObject({ code: "fetch_bad_url" });
  });

  it("follows a redirect that stays allowed, relative or absolute, and reports the final URL", async () => {
    const relative = await egress.fetch(redirectTo("/landed"));
    expect(JSON.parse(await relative.text())).toMatchObject({ path: "/landed" });
    expect([relative.url, relative.redirected]).toEqual([`${site.origin}/landed`, true]);
    const absolute = await egress.fetch(redirectTo(`http://site.test:${site.port}/there`, 308));
    expect(absolute.url).toBe(`http://site.test:${site.port}/there`);
  });
});

describe("the number of redirects is capped", () => {
  it("follows 5 by default and refuses the 6th", async () => {
    const five = await egress.fetch(`${site.origin}/chain/5`);
    expect(JSON.parse(await five.text())).toMatchObject({ path: "/chain/0" });
    const six = await rejection(egress.fetch(`${site.origin}/chain/6`));
    expect(six).toBeInstanceOf(FetchTooManyRedirectsError);
    expect(six).toMatchObject({ code: "fetch_too_many_redirects", maxRedirects: 5 });
  });

  it("takes a cap per fetch, 0 refusing any redirect", async () => {
    await expect(egress.fetch(`${site.origin}/chain/1`, { maxRedirects: 0 })).rejects.toBeInstanceOf(
      FetchTooManyRedirectsError,
    );
    const res = await egress.fetch(`${site.origin}/chain/8`, { maxRedirects: 8 });
    expect(res.status).toBe(200);
  });

  it("returns a redirect without a Location as it is", async () => {
    const res = await egress.fetch(`${site.origin}/to?status=301`);
    expect(res.status).toBe(301);
  });
});

describe("what a redirect carries over", () => {
  it("turns a POST into a GET without its body on 303, and keeps both on 307", async () => {
    const init = { method: "POST", body: "payload", headers: { "content-type": "text/plain" } };
    const see = await egress.fetch(redirectTo("/after", 303), init);
    expect(JSON.parse(await see.text())).toMatchObject({ method: "GET", body: "" });
    const temp = await egress.fetch(redirectTo("/after", 307), init);
    expect(JSON.parse(await temp.text())).toMatchObject({ method: "POST", body: "payload" });
  });

  it("drops Authorization on a redirect to another origin, keeps it on the same origin", async () => {
    const headers = { authorization: "Bearer secret" };
    const same = await egress.fetch(redirectTo("/same"), { headers });
    expect(JSON.parse(await same.text())).toMatchObject({ auth: "Bearer secret" });
    const cross = await egress.fetch(redirectTo(`http://site.test:${site.port}/cross`), { headers });
    expect(JSON.parse(await cross.text())).toMatchObject({ path: "/cross", auth: null });
  });
});
