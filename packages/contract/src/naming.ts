/**
 * Every name on the bus comes from these functions. The controller, the KEDA renderer, the worker and the
 * coordinator all call them, so they cannot disagree about where a component's jobs live.
 *
 * Component names are encoded injectively into a token that is safe in subjects, stream and consumer
 * names and file names on case-insensitive file systems: `[a-z0-9-]` pass through, every other UTF-8
 * byte (including `_`, the escape character itself, and upper-case letters) becomes `_xx` in lower-case
 * hex. The code is prefix-free, so two different names never share a token (see `decodeNameToken`).
 */

const PASS_THROUGH = /^[a-z0-9-]$/;
const utf8 = new TextEncoder();

export function encodeNameToken(name: string): string {
  if (name.length === 0) throw new TypeError("component name: expected a non-empty string");
  if (/^[a-z0-9-]+$/.test(name)) return name;
  let out = "";
  for (const ch of name) {
    if (PASS_THROUGH.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of utf8.encode(ch)) out += `_${byte.toString(16).padStart(2, "0")}`;
  }
  return out;
}

/** Inverse of `encodeNameToken`; throws on a token no name encodes to. */
export function decodeNameToken(token: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const ch = token[i] as string;
    if (ch === "_") {
      const hex = token.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/.test(hex)) throw new TypeError(`name token ${JSON.stringify(token)}: bad escape at ${i}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (PASS_THROUGH.test(ch)) {
      bytes.push(ch.charCodeAt(0));
    } else {
      throw new TypeError(`name token ${JSON.stringify(token)}: unexpected character ${JSON.stringify(ch)} at ${i}`);
    }
  }
  return new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
}

const SUBJECT_ROOT = "tessera";

/** Subject a component's jobs are published on. */
export function jobSubject(component: string): string {
  return `${SUBJECT_ROOT}.jobs.${encodeNameToken(component)}`;
}

const JOB_STREAM_PREFIX = "TESSERA_JOBS_";

/** The WorkQueue stream holding one component's jobs. */
export function jobStreamName(component: string): string {
  return `${JOB_STREAM_PREFIX}${encodeNameToken(component)}`;
}

/** The component whose job stream `stream` is (jobStreamName's inverse); undefined for any other stream. */
export function componentOfJobStream(stream: string): string | undefined {
  if (!stream.startsWith(JOB_STREAM_PREFIX)) return undefined;
  try {
    return decodeNameToken(stream.slice(JOB_STREAM_PREFIX.length));
  } catch {
    return undefined;
  }
}

/** The durable pull consumer the component's workers share (and KEDA scales on). */
export function durableConsumerName(component: string): string {
  return `tessera-worker-${encodeNameToken(component)}`;
}

/** Wildcard matching the Results of every component. */
export const RESULTS_SUBJECT_ALL = `${SUBJECT_ROOT}.results.>`;
/** The stream that keeps Results (limits retention: it is also the "result already exists" guard). */
export const RESULTS_STREAM = "TESSERA_RESULTS";

/** Subject of one job's Result. The job id is part of it so the guard can look the Result up by subject. */
export function resultSubject(component: string, jobId: string): string {
  return `${SUBJECT_ROOT}.results.${encodeNameToken(component)}.${jobId}`;
}

/** Wildcard matching all Results of one component. */
export function resultsSubject(component: string): string {
  return `${SUBJECT_ROOT}.results.${encodeNameToken(component)}.*`;
}

/** Dead letters of one component. */
export function dlqSubject(component: string): string {
  return `${SUBJECT_ROOT}.dlq.${encodeNameToken(component)}`;
}
export const DLQ_SUBJECT_ALL = `${SUBJECT_ROOT}.dlq.>`;
export const DLQ_STREAM = "TESSERA_DLQ";

/** Heartbeats travel on core NATS (not JetStream): a missed beat is information, not a loss. */
export function heartbeatSubject(component: string): string {
  return `${SUBJECT_ROOT}.heartbeat.${encodeNameToken(component)}`;
}
export const HEARTBEAT_SUBJECT_ALL = `${SUBJECT_ROOT}.heartbeat.*`;

/**
 * Coordinators ask who else runs on the bus here (core NATS request, every live coordinator answers), so
 * one whose store cannot be shared refuses to run beside another.
 */
export const COORDINATOR_PROBE_SUBJECT = `${SUBJECT_ROOT}.coordinators.probe`;

/** Captures JetStream's max-delivery advisories so none is lost while the coordinator is away. */
export const ADVISORY_STREAM = "TESSERA_ADVISORIES";
export const MAX_DELIVERIES_ADVISORY_SUBJECTS = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>";

/** Object Store bucket for payloads travelling by reference. */
export const PAYLOAD_BUCKET = "tessera-payloads";

/** Durable consumer names of the coordinator's own consumers. */
export const COORDINATOR_RESULTS_CONSUMER = "tessera-coordinator-results";
export const COORDINATOR_ADVISORIES_CONSUMER = "tessera-coordinator-advisories";
