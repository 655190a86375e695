import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { NoRespondersError, RequestError } from "@nats-io/transport-node";

/** Walks an error and its `cause` chain. */
function* chain(err: unknown): Generator<unknown> {
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 8; depth++) {
    yield cur;
    cur = cur instanceof Error ? cur.cause : undefined;
  }
}

/**
 * Nobody answered the request: for a JetStream publish that means no stream captures the subject (the
 * client reports it as "jetstream is not enabled"), for an API call that JetStream is unavailable.
 */
export function isNoResponders(err: unknown): boolean {
  for (const e of chain(err)) {
    if (e instanceof NoRespondersError) return true;
    // The client turns a publish nobody answers into JetStreamNotEnabled (not exported by the package).
    if (e instanceof Error && e.name === "JetStreamNotEnabled") return true;
    if (e instanceof RequestError && e.isNoResponders()) return true;
    if (e instanceof JetStreamApiError && e.status === 503) return true;
  }
  return false;
}

function hasApiCode(err: unknown, code: number): boolean {
  for (const e of chain(err)) if (e instanceof JetStreamApiError && e.code === code) return true;
  return false;
}

export const isStreamNotFound = (err: unknown): boolean => hasApiCode(err, JetStreamApiCodes.StreamNotFound);
export const isConsumerNotFound = (err: unknown): boolean => hasApiCode(err, JetStreamApiCodes.ConsumerNotFound);

/** Stream or consumer missing. */
export const isResourceNotFound = (err: unknown): boolean => isStreamNotFound(err) || isConsumerNotFound(err);

/** A message-level "not found" (get or delete of a sequence that is not in the stream). */
export function isMessageNotFound(err: unknown): boolean {
  for (const e of chain(err)) {
    if (!(e instanceof JetStreamApiError)) continue;
    if (e.code === JetStreamApiCodes.NoMessageFound) return true;
    // 2.9 answers a delete of a missing sequence with 10057 "no message found" / "sequence > last sequence",
    // and of a sequence past the end of the store with "stream store EOF".
    if (/no message found|sequence .*(last|first)|not found|store EOF/i.test(e.message)) return true;
  }
  return false;
}
