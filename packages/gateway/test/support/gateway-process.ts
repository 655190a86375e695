/**
 * The inbound server as its own process, for the SIGKILL fault test. Env: NATS_URL, PORT (0: any), SECRET (the
 * `webhook/globex/crm` account's). HOLD_AFTER_PUBLISH=1 makes every publish, once the stream has confirmed it,
 * print `{"event":"published"}` and never return: the process is then stuck in the one window where a kill loses
 * the answer but not the message, and the test kills it there.
 */
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createAdapterRegistry, standardWebhooksInbound, startInboundServer, staticAccounts } from "@tessera/gateway";

const nc = await connect({ servers: process.env["NATS_URL"] ?? "", maxReconnectAttempts: -1 });
const js = jetstream(nc);
const hold = process.env["HOLD_AFTER_PUBLISH"] === "1";
const held: JetStreamClient = new Proxy(js, {
  get(target, key, receiver) {
    if (key !== "publish" || !hold) return Reflect.get(target, key, receiver) as unknown;
    return async (...args: Parameters<JetStreamClient["publish"]>) => {
      const ack = await target.publish(...args);
      process.stdout.write(`${JSON.stringify({ event: "published", seq: ack.seq })}\n`);
      await new Promise(() => undefined);
      return ack;
    };
  },
});
const server = await startInboundServer({
  jetstream: held,
  registry: createAdapterRegistry({ inbound: [standardWebhooksInbound()] }),
  accounts: staticAccounts([
    { channelType: "webhook", tenant: "globex", account: "crm", signingSecrets: [process.env["SECRET"] ?? ""] },
  ]),
  port: Number(process.env["PORT"] ?? "0"),
});
process.stdout.write(`${JSON.stringify({ event: "ready", url: server.url })}\n`);
