/**
 * The gateway's inbound server as its own process, or the bare HTTP server it is compared with.
 * Env: NATS_URL; MODE `gateway` (Standard Webhooks inbound on the gateway streams, one account
 * `webhook/bench/load` with SECRET) or `bare` (node:http answering 202 once the body is read).
 * Prints `{"event":"ready","url":...}`.
 */
import { createServer } from "node:http";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { NATS_CLIENT_OPTIONS } from "@tessera/contract";
import {
  createAdapterRegistry,
  ensureGatewayStreams,
  standardWebhooksInbound,
  startInboundServer,
  staticAccounts,
} from "@tessera/gateway";

const mode = process.env["MODE"];
let url: string;
if (mode === "bare") {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(202, { "content-type": "application/json" });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
} else if (mode === "gateway") {
  const nc = await connect({ ...NATS_CLIENT_OPTIONS, servers: process.env["NATS_URL"] ?? "", name: "bench-gateway" });
  await ensureGatewayStreams(await jetstreamManager(nc));
  const server = await startInboundServer({
    jetstream: jetstream(nc),
    registry: createAdapterRegistry({ inbound: [standardWebhooksInbound()] }),
    accounts: staticAccounts([
      { channelType: "webhook", tenant: "bench", account: "load", signingSecrets: [process.env["SECRET"] ?? ""] },
    ]),
  });
  url = server.url;
} else {
  throw new Error(`MODE must be gateway or bare, got ${JSON.stringify(mode)}`);
}
process.stdout.write(`${JSON.stringify({ event: "ready", url })}\n`);
