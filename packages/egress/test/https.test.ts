import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createEgress, EgressDeniedError } from "../src/index.js";
import { forbidNonLoopbackDials, rejection, scriptedResolver } from "./helpers.js";

// A self-signed certificate for the name tls.test, valid for a century, made with
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500 \
//     -subj /CN=tls.test -addext subjectAltName=DNS:tls.test -keyout tls-test-key.pem -out tls-test-cert.pem
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const cert = fixture("tls-test-cert.pem");
const key = fixture("tls-test-key.pem");

let server: Server;
let port = 0;

beforeAll(async () => {
  server = createServer({ key, cert }, (req, res) => res.end(`secure ${req.headers.host}`));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => forbidNonLoopbackDials());
afterEach(() => vi.restoreAllMocks());

describe("https", () => {
  it("goes through the same dial-time check, with the name kept for TLS", async () => {
    const resolve = scriptedResolver({ "tls.test": [["127.0.0.1"]] });
    const allowed = createEgress({
      allow: { cidrs: ["127.0.0.1/32"], ports: [{ port }] },
      resolve,
      connect: { ca: cert },
    });
    const denied = createEgress({ resolve, connect: { ca: cert } });
    try {
      const res = await allowed.fetch(`https://tls.test:${port}/`);
      expect(await res.text()).toBe(`secure tls.test:${port}`);
      const err = await rejection(denied.fetch(`https://tls.test:${port}/`));
      expect(err).toBeInstanceOf(EgressDeniedError);
      expect(err).toMatchObject({ addressClass: "loopback" });
    } finally {
      await Promise.all([allowed.close(), denied.close()]);
    }
  });
});
