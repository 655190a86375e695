import type { JetStreamClient } from "@nats-io/jetstream";
import { encodeMessage, inboundDedupKey, inboundSubject } from "@tessera/contract";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { InboundAdapter, InboundRequest } from "../adapter.js";
import type { AccountDirectory, GatewayAccount } from "../accounts.js";
import type { AdapterRegistry } from "../registry.js";
import { completeMessage } from "./message.js";

/*
 * The inbound path: HTTP → verify → normalize → publish → 2xx. The answer goes out within `ackDeadlineMs` of the
 * request's arrival whatever happens: a publish the stream has not confirmed by then is answered 503, so the
 * platform retries and the duplicate window keeps the retry from becoming a second message. Nothing is answered
 * 2xx that the stream has not stored. Everything refused is a 4xx naming why; refusals that need no body
 * (unknown channel or account, wrong media type, a Content-Length over the limit) are answered before the body is
 * read, and a body that grows past the limit while streaming is cut off there.
 */

export const INBOUND_DEFAULTS = {
  /** Slack and most platforms give up after 3 s; the answer must be on the wire well before. */
  ackDeadlineMs: 2_500,
  maxBodyBytes: 1024 * 1024,
} as const;

/**
 * Where inbound Messages are stored: a JetStream client, or `tessera dev`'s in-process stand-in
 * (in-process-stream.ts), which keeps the same promises (a duplicate window, an ack once stored).
 */
export type InboundPublisher = Pick<JetStreamClient, "publish">;

export interface InboundServerOptions {
  jetstream: InboundPublisher;
  registry: AdapterRegistry;
  accounts: AccountDirectory;
  /** The clock signatures' timestamps are checked against and `received_at` is taken from. */
  now?: () => Date;
  ackDeadlineMs?: number;
  maxBodyBytes?: number;
  /** Told of each request that could not be published (the 503s), e.g. to log it. */
  onPublishFailure?: (err: unknown, account: GatewayAccount) => void;
}

/** The path an account's platform posts to. */
export function webhookPath(channelType: string, tenant: string, account: string): string {
  return `/hooks/${[channelType, tenant, account].map(encodeURIComponent).join("/")}`;
}

interface Route {
  adapter: InboundAdapter;
  account: GatewayAccount;
  mediaType: string;
  startedAt: number;
}

type Params = { channel: string; tenant: string; account: string };

function refuse(reply: FastifyReply, status: number, error: string, message: string, close = false) {
  if (close) reply.header("connection", "close");
  if (status === 503) reply.header("retry-after", "1");
  return reply.code(status).type("application/json").send({ error, message });
}

const mediaTypeOf = (header: string | undefined): string => (header ?? "").split(";")[0]!.trim().toLowerCase();

function headersOf(request: FastifyRequest): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers))
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  return out;
}

class PublishDeadline extends Error {}

/** Resolves or rejects with the publish, or rejects when the deadline comes first. */
function beforeDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PublishDeadline(`not confirmed within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** The inbound HTTP app, not listening yet (tests may `inject` into it). */
export function buildInboundApp(options: InboundServerOptions): FastifyInstance {
  const now = options.now ?? (() => new Date());
  const ackDeadlineMs = options.ackDeadlineMs ?? INBOUND_DEFAULTS.ackDeadlineMs;
  const maxBodyBytes = options.maxBodyBytes ?? INBOUND_DEFAULTS.maxBodyBytes;
  const routes = new WeakMap<FastifyRequest, Route>();
  const app = Fastify({
    logger: false,
    bodyLimit: maxBodyBytes,
    // A platform sends a webhook in one go; a client dribbling a body must not hold a connection for minutes.
    requestTimeout: 10_000,
  });

  // Signatures are computed over the exact bytes: every body is kept raw, whatever it claims to be.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

  app.setErrorHandler((error: { code?: string; statusCode?: number; message: string }, _request, reply) => {
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE")
      return refuse(reply, 413, "body_too_large", `the body is larger than ${maxBodyBytes} bytes`, true);
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return refuse(reply, status, "invalid_request", error.message);
    return refuse(reply, 500, "internal", error.message);
  });
  app.setNotFoundHandler((request, reply) =>
    refuse(
      reply,
      404,
      "not_found",
      `no route ${request.method} ${request.url.split("?")[0]}; webhooks are POST /hooks/<channel>/<tenant>/<account>`,
    ),
  );

  app.post<{ Params: Params; Body: Buffer }>(
    "/hooks/:channel/:tenant/:account",
    {
      // Everything decidable from the request line and headers is decided before a byte of the body is read.
      onRequest: async (request, reply) => {
        const startedAt = performance.now();
        const { channel, tenant, account: accountId } = request.params;
        const adapter = options.registry.inbound(channel);
        if (adapter === undefined)
          return refuse(
            reply,
            404,
            "unknown_channel",
            `no inbound adapter for channel type ${JSON.stringify(channel)}`,
            true,
          );
        const length = Number(request.headers["content-length"] ?? NaN);
        if (length > maxBodyBytes)
          return refuse(
            reply,
            413,
            "body_too_large",
            `Content-Length ${length} is over the ${maxBodyBytes}-byte limit`,
            true,
          );
        const mediaType = mediaTypeOf(request.headers["content-type"]);
        if (!adapter.mediaTypes.includes(mediaType))
          return refuse(
            reply,
            415,
            "unsupported_media_type",
            `content-type ${JSON.stringify(mediaType || "(none)")} is not accepted for ${channel}; expected ${adapter.mediaTypes.join(" or ")}`,
            true,
          );
        const account = await options.accounts.get(channel, tenant, accountId);
        if (account === undefined || account.channelType !== channel)
          return refuse(reply, 404, "unknown_account", `no ${channel} account ${tenant}/${accountId}`, true);
        if (account.disabled === true)
          return refuse(
            reply,
            403,
            "account_disabled",
            `the ${channel} account ${tenant}/${accountId} is disabled`,
            true,
          );
        routes.set(request, { adapter, account, mediaType, startedAt });
      },
    },
    async (request, reply) => {
      const route = routes.get(request)!;
      const { adapter, account } = route;
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const inbound: InboundRequest = { headers: headersOf(request), body, mediaType: route.mediaType };
      const receivedAt = now();
      const verdict = adapter.verify(inbound, account, receivedAt);
      if (!verdict.ok) return refuse(reply, 401, verdict.reason, verdict.detail);
      const handshake = adapter.handshake?.(inbound, account);
      if (handshake !== undefined) return reply.code(handshake.status).type(handshake.contentType).send(handshake.body);
      const outcome = adapter.normalize(inbound, account);
      if (outcome.kind === "ignore") return reply.code(200).send({ ok: true, ignored: outcome.reason });
      if (outcome.kind === "invalid")
        return refuse(reply, 400, "invalid_payload", `${outcome.field}: ${outcome.detail}`);
      const checked = completeMessage(outcome.event, account, receivedAt);
      if (!checked.ok) return refuse(reply, 422, "invalid_message", checked.error.message);
      const message = checked.value;
      const scope = { channelType: account.channelType, tenant: account.tenant, account: account.account };
      const remaining = Math.floor(ackDeadlineMs - (performance.now() - route.startedAt));
      if (remaining <= 0) return refuse(reply, 503, "publish_timeout", "no time left to store the message; retry");
      try {
        const ack = await beforeDeadline(
          options.jetstream.publish(inboundSubject(scope), encodeMessage(message), {
            msgID: inboundDedupKey(scope, message.source_message_id),
            timeout: remaining,
          }),
          remaining,
        );
        return reply.code(200).send({ ok: true, id: message.id, duplicate: ack.duplicate });
      } catch (err) {
        options.onPublishFailure?.(err, account);
        return err instanceof PublishDeadline
          ? refuse(reply, 503, "publish_timeout", `the message was not stored within ${ackDeadlineMs} ms; retry`)
          : refuse(reply, 503, "publish_failed", `the message was not stored (${(err as Error).message}); retry`);
      }
    },
  );
  return app;
}

export interface InboundServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startInboundServer(
  options: InboundServerOptions & { host?: string; port?: number },
): Promise<InboundServer> {
  const app = buildInboundApp(options);
  await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const host = options.host ?? "127.0.0.1";
  return { url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`, app, close: () => app.close() };
}
