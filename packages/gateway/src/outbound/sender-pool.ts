import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import {
  GATEWAY_SCHEMA_VERSION,
  decodeSendCommand,
  deliverySubject,
  encodeDeliveryRecord,
  gatewayDeadLetterSubject,
  gatewayDurableName,
  gatewayStreamName,
  gatewaySubjectFilter,
  sanitizeReasonDetail,
  type DeliveryRecord,
  type SendCommand,
} from "@tessera/contract";
import type { Egress } from "@tessera/egress";
import type { DeliveryResult, OutboundAdapter, RateLimit } from "../adapter.js";
import type { AccountDirectory, GatewayAccount } from "../accounts.js";
import type { AdapterRegistry } from "../registry.js";
import { RateLimiter, checkRateLimit, type TokenBuckets } from "./rate-limiter.js";
import { SharedRateLimiter } from "./shared-rate-limiter.js";
import { routeAttempt, type AttemptOutcome, type Route } from "./routing.js";

/*
 * The sender pool: SendCommands off the outbound work queue, each spending a token from its account's bucket
 * (or the adapter's unit), sent through the egress guard, and routed by the table in routing.ts. A command is
 * acknowledged only after its delivery record is stored, and terminated only after its dead letter is, so a
 * crash anywhere leaves it on the queue. A redelivered command whose delivery record exists is acknowledged
 * without sending again (the window left is a crash between the platform's answer and the record).
 */

export const SENDER_DEFAULTS = {
  concurrency: 32,
  maxAttempts: 10,
  ackWaitMs: 30_000,
  rateLimit: { perSecond: 10, burst: 20 } satisfies RateLimit,
} as const;

export type SenderEvent =
  | { type: "delivered"; command: SendCommand; attempt: number; platformMessageId?: string }
  | { type: "retry"; commandId: string; attempt: number; delayMs: number; reason: string }
  | { type: "dead_lettered"; commandId: string; attempt: number; reasonCode: string; detail?: string }
  | { type: "duplicate"; commandId: string }
  | { type: "invalid"; detail: string }
  | { type: "error"; commandId?: string; error: unknown };

export interface SenderPoolOptions {
  nats: NatsConnection;
  registry: AdapterRegistry;
  accounts: AccountDirectory;
  egress: Egress;
  /** Commands being sent at once. */
  concurrency?: number;
  /** Deliveries of a command before a retryable failure is dead-lettered (`max_attempts`). */
  maxAttempts?: number;
  ackWaitMs?: number;
  /** Send only this channel type's commands (its own durable, filtered); all channels by default. */
  channelType?: string;
  /** The limit of a key whose account sets none and whose adapter has no default. */
  defaultRateLimit?: RateLimit;
  /**
   * Where the token buckets live: `shared` (default) in a NATS key-value store every sender replica uses, so
   * N replicas together keep each key's rate; `local` in this process only (N replicas allow N times the rate),
   * for a single sender that wants no store round trips; or buckets of your own.
   */
  buckets?: "shared" | "local" | TokenBuckets;
  /** `local` buckets unused for this long are dropped (shared ones expire in the store). */
  bucketIdleMs?: number;
  /** Replicas of the shared buckets' stream (3 on a clustered NATS). Default 1. */
  bucketReplicas?: number;
  random?: () => number;
  now?: () => Date;
  onEvent?: (event: SenderEvent) => void;
}

export interface SenderPool {
  readonly limiter: TokenBuckets;
  stop(): Promise<void>;
}

async function ensureSenderConsumer(
  jsm: JetStreamManager,
  durable: string,
  o: Required<Pick<SenderPoolOptions, "ackWaitMs" | "concurrency">> & { channelType?: string },
) {
  const stream = gatewayStreamName("outbound");
  const config = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(o.ackWaitMs),
    // Unlimited at the server: the pool dead-letters on its own count, so no command is stranded on the queue
    // after max_deliver (a WorkQueue stream keeps those, docs/shared toolchain notes).
    max_deliver: -1,
    // Unlimited too: a command denied a token waits out its nak delay on the server, still pending, so any cap
    // here is a backlog size at which one account bursting past its limit stops every other account's commands
    // from being delivered at all. In-process concurrency is bounded by the pull size instead.
    max_ack_pending: -1,
    ...(o.channelType !== undefined ? { filter_subject: gatewaySubjectFilter("out", o.channelType) } : {}),
  };
  const existing = await jsm.consumers.info(stream, durable).catch(() => undefined);
  if (existing === undefined) await jsm.consumers.add(stream, config);
  else if (existing.config.ack_wait !== config.ack_wait || existing.config.max_ack_pending !== config.max_ack_pending)
    await jsm.consumers.update(stream, durable, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending });
}

class Sender {
  constructor(
    private readonly o: SenderPoolOptions,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly limiter: TokenBuckets,
    private readonly signal: AbortSignal,
  ) {}

  private now = (): Date => this.o.now?.() ?? new Date();

  async handle(m: JsMsg): Promise<void> {
    const attempt = m.info.deliveryCount;
    const decoded = decodeSendCommand(m.data);
    if (!decoded.ok) {
      // Its scope cannot be trusted, so there is no account to file a dead letter under: say so and drop it.
      this.o.onEvent?.({ type: "invalid", detail: decoded.error.message });
      m.term();
      return;
    }
    const command = decoded.value;
    if (attempt > 1 && (await this.alreadyDelivered(command))) {
      this.o.onEvent?.({ type: "duplicate", commandId: command.id });
      m.ack();
      return;
    }
    const outcome = await this.attempt(command, attempt);
    const route = routeAttempt(outcome, {
      attempt,
      maxAttempts: this.o.maxAttempts ?? SENDER_DEFAULTS.maxAttempts,
      random: this.o.random ?? Math.random,
    });
    await this.settle(m, command, attempt, outcome, route);
  }

  private async attempt(command: SendCommand, attempt: number): Promise<AttemptOutcome> {
    const adapter = this.o.registry.outbound(command.channel_type);
    if (adapter === undefined) return { kind: "unknown_channel", channelType: command.channel_type };
    const account = await this.o.accounts.get(command.channel_type, command.scope.tenant, command.scope.account);
    const permanent = (code: string, detail: string): AttemptOutcome => ({
      kind: "delivery",
      result: { ok: false, error: { code, detail, retryable: false, rateLimited: false } },
    });
    if (account === undefined)
      return permanent(
        "unknown_account",
        `no ${command.channel_type} account ${command.scope.tenant}/${command.scope.account}`,
      );
    if (account.disabled === true) return permanent("account_disabled", "the account is disabled");
    const send = command.edit_target === undefined ? adapter.send : adapter.edit;
    if (send === undefined || (command.edit_target !== undefined && !adapter.capabilities.edit))
      return permanent("edit_unsupported", `${command.channel_type} cannot edit a message`);
    const denied = await this.spendToken(command, attempt, adapter, account);
    if (denied !== undefined) return denied;
    let result: DeliveryResult;
    try {
      result = await send.call(adapter, command, { account, egress: this.o.egress, signal: this.signal });
    } catch (err) {
      // An adapter should answer with a DeliveryResult; a throw is a bug or an outage, and worth a retry.
      result = {
        ok: false,
        error: { code: "adapter_error", detail: String(err), retryable: true, rateLimited: false },
      };
    }
    return { kind: "delivery", result };
  }

  private async spendToken(
    command: SendCommand,
    attempt: number,
    adapter: OutboundAdapter,
    account: GatewayAccount,
  ): Promise<AttemptOutcome | undefined> {
    const key = adapter.rateLimitKey?.(command) ?? JSON.stringify([command.scope.tenant, command.scope.account]);
    const limit = account.rateLimit ?? adapter.defaultRateLimit ?? this.o.defaultRateLimit ?? SENDER_DEFAULTS.rateLimit;
    const taken = await this.limiter.take(key, limit, { id: command.id, returning: attempt > 1 });
    return taken.ok ? undefined : { kind: "rate_denied", waitMs: taken.waitMs };
  }

  private async settle(m: JsMsg, command: SendCommand, attempt: number, outcome: AttemptOutcome, route: Route) {
    const base = {
      schema_version: GATEWAY_SCHEMA_VERSION,
      command_id: command.id,
      scope: command.scope,
      channel_type: command.channel_type,
      attempt,
      at: this.now().toISOString(),
    };
    const result = outcome.kind === "delivery" ? outcome.result : undefined;
    if (route.action === "nak") {
      this.o.onEvent?.({ type: "retry", commandId: command.id, attempt, delayMs: route.delayMs, reason: route.reason });
      m.nak(route.delayMs);
      return;
    }
    if (route.action === "ack") {
      const platformMessageId = result?.ok === true ? result.platformMessageId : undefined;
      const record: DeliveryRecord = {
        ...base,
        status: "delivered",
        ...(platformMessageId !== undefined ? { platform_message_id: platformMessageId } : {}),
        ...(result?.ok === true && result.httpStatus !== undefined ? { http_status: result.httpStatus } : {}),
      };
      try {
        await this.js.publish(deliverySubject(command.channel_type, command.id), encodeDeliveryRecord(record), {
          msgID: `delivered:${command.id}`,
        });
      } catch (err) {
        // Sent already: acknowledging without the record beats sending it a second time.
        this.o.onEvent?.({ type: "error", commandId: command.id, error: err });
      }
      m.ack();
      this.o.onEvent?.({
        type: "delivered",
        command,
        attempt,
        ...(platformMessageId !== undefined ? { platformMessageId } : {}),
      });
      return;
    }
    const error = result?.ok === false ? result.error : undefined;
    const letter: DeliveryRecord = {
      ...base,
      status: "dead_lettered",
      reason_code: route.reasonCode,
      ...(route.detail !== undefined ? { reason_detail: sanitizeReasonDetail(route.detail) } : {}),
      ...(error?.httpStatus !== undefined ? { http_status: error.httpStatus } : {}),
      command,
    };
    try {
      await this.js.publish(gatewayDeadLetterSubject(this.scopeOf(command)), encodeDeliveryRecord(letter), {
        msgID: `dead:${command.id}`,
      });
    } catch (err) {
      // Not terminated without its dead letter: it comes back and is routed again.
      this.o.onEvent?.({ type: "error", commandId: command.id, error: err });
      m.nak(5_000);
      return;
    }
    m.term();
    this.o.onEvent?.({
      type: "dead_lettered",
      commandId: command.id,
      attempt,
      reasonCode: route.reasonCode,
      ...(route.detail !== undefined ? { detail: route.detail } : {}),
    });
  }

  private scopeOf(c: SendCommand) {
    return { channelType: c.channel_type, tenant: c.scope.tenant, account: c.scope.account };
  }

  private async alreadyDelivered(command: SendCommand): Promise<boolean> {
    const stored = await this.jsm.streams
      .getMessage(gatewayStreamName("deliveries"), { last_by_subj: deliverySubject(command.channel_type, command.id) })
      .catch(() => null);
    return stored !== null;
  }
}

/** Binds (creating if needed) the sender durable and starts sending. `stop()` waits for sends in flight. */
export async function startSenderPool(options: SenderPoolOptions): Promise<SenderPool> {
  const concurrency = options.concurrency ?? SENDER_DEFAULTS.concurrency;
  const ackWaitMs = options.ackWaitMs ?? SENDER_DEFAULTS.ackWaitMs;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new RangeError(`concurrency: expected an integer >= 1, got ${concurrency}`);
  if (options.defaultRateLimit !== undefined) checkRateLimit(options.defaultRateLimit, "defaultRateLimit");
  const jsm = await jetstreamManager(options.nats);
  const js = jetstream(options.nats);
  const durable = gatewayDurableName("sender", options.channelType);
  await ensureSenderConsumer(jsm, durable, {
    ackWaitMs,
    concurrency,
    ...(options.channelType !== undefined ? { channelType: options.channelType } : {}),
  });
  const buckets = options.buckets ?? "shared";
  const limiter: TokenBuckets =
    buckets === "local"
      ? new RateLimiter(options.bucketIdleMs !== undefined ? { idleMs: options.bucketIdleMs } : {})
      : buckets === "shared"
        ? await SharedRateLimiter.open(options.nats, {
            ...(options.bucketReplicas !== undefined ? { replicas: options.bucketReplicas } : {}),
          })
        : buckets;
  const abort = new AbortController();
  const sender = new Sender(options, js, jsm, limiter, abort.signal);
  const consumer = await js.consumers.get(gatewayStreamName("outbound"), durable);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: concurrency });
  const inFlight = new Set<Promise<void>>();
  let free = concurrency;
  let wake: (() => void) | undefined;

  const loop = (async () => {
    for await (const m of messages) {
      while (free === 0) await new Promise<void>((resolve) => (wake = resolve));
      free--;
      // Each command in its own task: a slow platform must not hold the others' ack timers.
      const task = sender
        .handle(m)
        .catch((error: unknown) => {
          options.onEvent?.({ type: "error", error });
          m.nak(1_000);
        })
        .finally(() => {
          free++;
          inFlight.delete(task);
          wake?.();
          wake = undefined;
        });
      inFlight.add(task);
    }
  })();

  return {
    limiter,
    async stop() {
      await messages.close().catch(() => undefined);
      await loop.catch(() => undefined);
      await Promise.allSettled([...inFlight]);
      abort.abort();
    },
  };
}
