/**
 * One bus interface, two backends. Pick the backend at the edge; everything else sees `Bus`.
 *
 * ```ts
 * import { connectJetStreamBus, createInProcessBus } from "@tessera/bus";
 * const bus = process.env.NATS_URL ? await connectJetStreamBus({ servers: process.env.NATS_URL }) : createInProcessBus();
 * await bus.ensureComponent({ name: "extract", ackWaitMs: 30_000, maxDeliver: 5, duplicateWindowMs: 120_000 });
 * ```
 */
export type {
  Bus,
  BusTopology,
  BusInventory,
  StoredJob,
  PublishAck,
  PublishJobOptions,
  ConsumeJobsOptions,
  JobDelivery,
  QueueDepth,
  ResultEvent,
  HeartbeatEvent,
  ExhaustedDelivery,
  DeadLetter,
  Subscription,
  PayloadStore,
  CoordinatorPresence,
  CoordinatorMembership,
} from "./bus.js";
export { jobIdOf } from "./envelope-job-id.js";
export { resultDedupKey } from "./result-dedup-key.js";
export {
  BusError,
  BusNotProvisionedError,
  PayloadTooLargeError,
  PayloadNotOwnedError,
  PayloadMissingError,
  BusClosedError,
} from "./errors.js";
export { createInProcessBus, type InProcessBusOptions } from "./embedded/inprocess-bus.js";
export { connectJetStreamBus, type JetStreamBusOptions } from "./nats/jetstream-bus.js";
export {
  startLocalNatsServer,
  NatsServerNotInstalledError,
  type LocalNatsServer,
  type LocalNatsServerOptions,
} from "./nats/local-server.js";
export { freePort } from "./nats/free-port.js";
export {
  TRACER_NAME,
  MESSAGING_SYSTEM,
  MessagingAttr,
  TesseraAttr,
  HttpAttr,
  OPERATION_NAME,
  jobSpan,
  resultSpan,
  type MessagingOperation,
  type MessagingSpanName,
} from "./tracing/trace-names.js";
export {
  SpanKind,
  SpanStatusCode,
  activeContext,
  withSpan,
  withContext,
  injectTrace,
  extractTrace,
  traceHeadersFrom,
  parseTraceparent,
  formatTraceparent,
  contextFromTraceparent,
  hasSpan,
  isRecording,
  setActiveAttributes,
  setActiveError,
  startMessagingSpan,
  startServerSpan,
  endWithError,
  traceLogFields,
  type TraceCarrier,
  type Context as TraceContext,
  type Span,
} from "./tracing/trace-context.js";
export {
  startTracing,
  tracingConfig,
  TracingConfigError,
  type StartTracingOptions,
  type TracingConfig,
  type TracingEnv,
  type TracingHandle,
  type TraceExporterKind,
} from "./tracing/start-tracing.js";
