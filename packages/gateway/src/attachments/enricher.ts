import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { encodeMessage, enrichedSubject, type Message } from "@tessera/contract";
import type { Egress } from "@tessera/egress";
import type { AccountDirectory } from "../accounts.js";
import type { AdapterRegistry } from "../registry.js";
import { startInboundConsumer, type InboundConsumer, type InboundConsumerEvent } from "../inbound/consumer.js";
import { fetchAttachment } from "./fetch.js";
import type { AttachmentStore } from "./store.js";

/*
 * Reads the inbound stream (durable `tessera-gw-attachments`), fetches each announced attachment through the
 * egress guard while the platform's URL is still valid, stores it content-addressed, and publishes the Message
 * with `storage_key`, `sha256` and `byte_size` filled in to the enriched stream (Nats-Msg-Id = the Message id, so
 * a redelivery republishes once). A fetch that fails sets the attachment's `error_code`; the Message is always
 * published. A store that fails is ours, not the platform's: the Message is retried, and after `storeAttempts`
 * deliveries published with `attachment_store_failed` rather than held forever.
 */

export const ENRICHER_DEFAULTS = {
  maxBytes: 25 * 1024 * 1024,
  timeoutMs: 20_000,
  maxRedirects: 3,
  fetchAttempts: 3,
  storeAttempts: 5,
  concurrency: 8,
  sweepIntervalMs: 60_000,
} as const;

export type EnricherEvent =
  | InboundConsumerEvent
  | { type: "stored"; messageId: string; key: string; byteSize: number; deduplicated: boolean }
  | { type: "fetch_failed"; messageId: string; code: string; detail: string }
  | { type: "published"; messageId: string; seq: number; duplicate: boolean };

export interface EnrichOptions {
  store: AttachmentStore;
  egress: Egress;
  maxBytes?: number;
  timeoutMs?: number;
  maxRedirects?: number;
  /** Tries of a fetch that failed retryably (a dropped connection, 5xx, 429) within one delivery. */
  fetchAttempts?: number;
  /**
   * With both, each Message's fetches carry its inbound adapter's `attachmentHeaders(account)` (Slack: the bot
   * token for `url_private`).
   */
  registry?: AdapterRegistry;
  accounts?: AccountDirectory;
  /** Headers for one attachment's fetch, over the adapter's. */
  headers?: (message: Message, attachment: MessageAttachmentValue) => Record<string, string> | undefined;
  onEvent?: (event: EnricherEvent) => void;
  sleep?: (ms: number) => Promise<void>;
}

type MessageAttachmentValue = Message["attachments"][number];

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Thrown when the store (not the platform) fails, so the Message is retried. */
export class AttachmentStoreError extends Error {
  constructor(cause: unknown) {
    super(`attachment store: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = "AttachmentStoreError";
  }
}

async function enrichOne(
  message: Message,
  attachment: MessageAttachmentValue,
  o: EnrichOptions,
  adapterHeaders: Record<string, string> | undefined,
): Promise<MessageAttachmentValue> {
  // Already stored, already failed, or nothing to fetch: as it is.
  if (
    attachment.storage_key !== undefined ||
    attachment.error_code !== undefined ||
    attachment.source_url === undefined
  )
    return attachment;
  const maxBytes = o.maxBytes ?? ENRICHER_DEFAULTS.maxBytes;
  const failed = (code: string, detail: string): MessageAttachmentValue => {
    o.onEvent?.({ type: "fetch_failed", messageId: message.id, code, detail });
    return { ...attachment, error_code: code };
  };
  if (attachment.byte_size !== undefined && attachment.byte_size > maxBytes)
    return failed("fetch_too_large", `announced ${attachment.byte_size} bytes, over ${maxBytes}`);
  const attempts = Math.max(1, o.fetchAttempts ?? ENRICHER_DEFAULTS.fetchAttempts);
  const own = o.headers?.(message, attachment);
  const headers = adapterHeaders === undefined && own === undefined ? undefined : { ...adapterHeaders, ...own };
  for (let attempt = 1; ; attempt++) {
    const got = await fetchAttachment(o.egress, attachment.source_url, {
      maxBytes,
      timeoutMs: o.timeoutMs ?? ENRICHER_DEFAULTS.timeoutMs,
      maxRedirects: o.maxRedirects ?? ENRICHER_DEFAULTS.maxRedirects,
      ...(headers !== undefined ? { headers } : {}),
    });
    if (!got.ok) {
      if (got.retryable && attempt < attempts) {
        await (o.sleep ?? defaultSleep)(250 * 2 ** (attempt - 1));
        continue;
      }
      return failed(got.code, got.detail);
    }
    const contentType = attachment.content_type ?? got.contentType;
    let stored;
    try {
      stored = await o.store.put(got.bytes, contentType !== undefined ? { contentType } : {});
    } catch (err) {
      throw new AttachmentStoreError(err);
    }
    o.onEvent?.({
      type: "stored",
      messageId: message.id,
      key: stored.key,
      byteSize: stored.byteSize,
      deduplicated: stored.deduplicated,
    });
    return {
      ...attachment,
      ...(contentType !== undefined && contentType.length > 0 ? { content_type: contentType.slice(0, 255) } : {}),
      byte_size: stored.byteSize,
      storage_key: stored.key,
      sha256: stored.sha256,
    };
  }
}

async function headersOfAdapter(message: Message, o: EnrichOptions): Promise<Record<string, string> | undefined> {
  const adapter = o.registry?.inbound(message.channel_type);
  if (adapter?.attachmentHeaders === undefined || o.accounts === undefined) return undefined;
  const account = await o.accounts.get(message.channel_type, message.scope.tenant, message.scope.account);
  return account === undefined ? undefined : adapter.attachmentHeaders(account);
}

/**
 * The Message with every fetchable attachment fetched and stored, or marked with its error code. Throws
 * `AttachmentStoreError` only when the store fails; `storeFailed` turns that into `attachment_store_failed` on the
 * attachments not yet stored (the last delivery's answer).
 */
export async function enrichMessage(message: Message, o: EnrichOptions, storeFailed = false): Promise<Message> {
  if (message.attachments.length === 0) return message;
  const adapterHeaders = await headersOfAdapter(message, o);
  const attachments = await Promise.all(
    message.attachments.map((a) =>
      enrichOne(message, a, o, adapterHeaders).catch((err: unknown) => {
        if (!(err instanceof AttachmentStoreError) || !storeFailed) throw err;
        return { ...a, error_code: "attachment_store_failed" };
      }),
    ),
  );
  return { ...message, attachments };
}

export interface AttachmentEnricherOptions extends EnrichOptions {
  nats: NatsConnection;
  /** Deliveries of one Message whose store keeps failing before it is published with `attachment_store_failed`. */
  storeAttempts?: number;
  concurrency?: number;
  ackWaitMs?: number;
  sweepIntervalMs?: number;
}

export interface AttachmentEnricher {
  stop(): Promise<void>;
}

export async function publishEnriched(
  js: JetStreamClient,
  message: Message,
): Promise<{ seq: number; duplicate: boolean }> {
  const ack = await js.publish(
    enrichedSubject({ channelType: message.channel_type, ...message.scope }),
    encodeMessage(message),
    {
      msgID: message.id,
    },
  );
  return { seq: ack.seq, duplicate: ack.duplicate };
}

export async function startAttachmentEnricher(options: AttachmentEnricherOptions): Promise<AttachmentEnricher> {
  const js = jetstream(options.nats);
  const storeAttempts = options.storeAttempts ?? ENRICHER_DEFAULTS.storeAttempts;
  const timeoutMs = options.timeoutMs ?? ENRICHER_DEFAULTS.timeoutMs;
  const fetchAttempts = options.fetchAttempts ?? ENRICHER_DEFAULTS.fetchAttempts;
  const consumer: InboundConsumer = await startInboundConsumer({
    nats: options.nats,
    role: "attachments",
    concurrency: options.concurrency ?? ENRICHER_DEFAULTS.concurrency,
    // Attachments are fetched in parallel, each within timeoutMs per try: the ack timer must outlast the tries.
    ackWaitMs: options.ackWaitMs ?? fetchAttempts * (timeoutMs + 2_000) + 10_000,
    ...(options.onEvent !== undefined ? { onEvent: options.onEvent } : {}),
    handle: async (message, { attempt }) => {
      const enriched = await enrichMessage(message, options, attempt >= storeAttempts);
      const published = await publishEnriched(js, enriched);
      options.onEvent?.({ type: "published", messageId: message.id, ...published });
    },
  });
  const sweepEvery = options.sweepIntervalMs ?? ENRICHER_DEFAULTS.sweepIntervalMs;
  const sweeper = setInterval(() => void options.store.sweep().catch(() => undefined), sweepEvery);
  sweeper.unref();
  return {
    async stop() {
      clearInterval(sweeper);
      await consumer.stop();
    },
  };
}
