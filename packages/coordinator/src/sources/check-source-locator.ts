import type { SourceLocator } from "@tessera/contract";
import { FetchUrlError, parseTarget } from "@tessera/egress";
import { invalidRequest } from "../errors.js";
import type { ComponentRegistration } from "../types.js";
import { MAX_FETCH_TIMEOUT_MS } from "./fetch-source.js";
import type { SourceSecretBook } from "./source-config.js";

const FIELD = "input.source_locator";

/**
 * What a submitted source locator must be beyond the envelope's schema, checked before the job is recorded so that
 * a mistake is a 400 naming the field rather than a job failing later: the component fetch-controlled, the URL one
 * the egress guard would try (http or https, a host, no credentials), the limits within the job's, and a named
 * secret one this coordinator may send to the URL's origin. Where the URL leads is not checked here: names resolve
 * differently later, and the guard decides that at the dial, failing the job with `egress_denied`.
 */
export function checkSourceLocator(
  locator: SourceLocator,
  registration: ComponentRegistration,
  maxBytes: number,
  secrets: SourceSecretBook,
): void {
  const { egress } = registration.spec;
  if (egress !== "fetch-controlled")
    throw invalidRequest(
      FIELD,
      "a component whose egress is fetch-controlled (the coordinator fetches its input for it); submit the input itself (json, text, bytes) to others",
      `component ${registration.name}, whose egress is ${egress}`,
    );
  let url: URL;
  try {
    url = parseTarget(locator.source_url).url;
  } catch (err) {
    if (!(err instanceof FetchUrlError)) throw err;
    throw invalidRequest(`${FIELD}.source_url`, "an http or https URL with a host and no credentials", err.problem);
  }
  const limits = locator.fetch_limits;
  if (limits?.max_bytes !== undefined && limits.max_bytes > maxBytes)
    throw invalidRequest(
      `${FIELD}.fetch_limits.max_bytes`,
      `at most ${maxBytes} bytes (the job's max_bytes: its worker reads no more)`,
      String(limits.max_bytes),
    );
  if (limits?.timeout_ms !== undefined && limits.timeout_ms > MAX_FETCH_TIMEOUT_MS)
    throw invalidRequest(
      `${FIELD}.fetch_limits.timeout_ms`,
      `at most ${MAX_FETCH_TIMEOUT_MS} ms`,
      String(limits.timeout_ms),
    );
  const name = locator.source_secret_ref;
  if (name === undefined) return;
  const found = secrets.lookup(name, url);
  if ("problem" in found)
    throw invalidRequest(
      `${FIELD}.source_secret_ref`,
      "a source secret this coordinator may send to the URL",
      found.problem,
    );
}
