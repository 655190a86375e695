import { jobSubject, resultsSubject } from "@tessera/contract";

/**
 * Every span name and attribute name Tessera uses, once. They follow OpenTelemetry's messaging conventions
 * (span name `{operation} {destination}`, with the low-cardinality destination: the job subject, or the
 * template of the Result subjects, whose last token is the job id) and its HTTP conventions for the admin API.
 * docs/observability.md lists them; decision 0032 says how the spans of a job hang together.
 */

/** The instrumentation scope of every Tessera span. */
export const TRACER_NAME = "@tessera/bus";

export const MessagingAttr = {
  system: "messaging.system",
  operationType: "messaging.operation.type",
  operationName: "messaging.operation.name",
  destinationName: "messaging.destination.name",
  destinationTemplate: "messaging.destination.template",
  messageId: "messaging.message.id",
  consumerGroup: "messaging.consumer.group.name",
  bodySize: "messaging.message.body.size",
} as const;

export const TesseraAttr = {
  jobId: "tessera.job.id",
  component: "tessera.component",
  /** The delivery count of a job as a worker sees it. */
  attempt: "tessera.attempt",
  /** How a worker's delivery ended (completed, failed, timeout, retried, invalid, duplicate). */
  outcome: "tessera.outcome",
  /** What recording a Result did (applied, duplicate, unknown, invalid). */
  applyOutcome: "tessera.result.apply",
  resultStatus: "tessera.result.status",
  reasonCode: "tessera.result.reason_code",
} as const;

export const HttpAttr = {
  method: "http.request.method",
  route: "http.route",
  path: "url.path",
  scheme: "url.scheme",
  statusCode: "http.response.status_code",
  serverAddress: "server.address",
  serverPort: "server.port",
  clientAddress: "client.address",
  userAgent: "user_agent.original",
} as const;

export const MESSAGING_SYSTEM = "nats";

/** The four messaging operations of a job's life, as the conventions name their types. */
export type MessagingOperation = "create" | "send" | "process";

/** The operation names (`messaging.operation.name`): NATS says publish for send. */
export const OPERATION_NAME: Readonly<Record<MessagingOperation, string>> = {
  create: "create",
  send: "publish",
  process: "process",
};

export interface MessagingSpanName {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
}

const jobSpans = new Map<string, MessagingSpanName>();

/**
 * A span on a component's job subject: `create tessera.jobs.x` (submit), `publish …` (relay), `process …`
 * (worker). Made once per component and operation (on every job's path, traced or not); never mutate it.
 */
export function jobSpan(operation: MessagingOperation, component: string): MessagingSpanName {
  const key = `${operation} ${component}`;
  let span = jobSpans.get(key);
  if (span === undefined) {
    span = newJobSpan(operation, component);
    jobSpans.set(key, span);
  }
  return span;
}

function newJobSpan(operation: MessagingOperation, component: string): MessagingSpanName {
  const subject = jobSubject(component);
  return {
    name: `${OPERATION_NAME[operation]} ${subject}`,
    attributes: {
      [MessagingAttr.system]: MESSAGING_SYSTEM,
      [MessagingAttr.operationType]: operation,
      [MessagingAttr.operationName]: OPERATION_NAME[operation],
      [MessagingAttr.destinationName]: subject,
      [TesseraAttr.component]: component,
    },
  };
}

const resultSpans = new Map<string, MessagingSpanName>();

/**
 * A span on a component's Result subjects: `publish tessera.results.x.*` (the worker), `process …` (the
 * coordinator's apply). The name uses the subjects' template: the real subject ends with the job id, so the
 * caller sets it (`messaging.destination.name`) on a span that records. Made once per component and operation.
 */
export function resultSpan(operation: "send" | "process", component: string): MessagingSpanName {
  const key = `${operation} ${component}`;
  let span = resultSpans.get(key);
  if (span === undefined) {
    const template = resultsSubject(component);
    span = {
      name: `${OPERATION_NAME[operation]} ${template}`,
      attributes: {
        [MessagingAttr.system]: MESSAGING_SYSTEM,
        [MessagingAttr.operationType]: operation,
        [MessagingAttr.operationName]: OPERATION_NAME[operation],
        [MessagingAttr.destinationTemplate]: template,
        [TesseraAttr.component]: component,
      },
    };
    resultSpans.set(key, span);
  }
  return span;
}
