/**
 * Reason codes are checked by syntax, not looked up in a registry, so a worker can introduce a new code
 * without a lockstep deploy of the coordinator.
 */
const REASON_CODE = /^[a-z0-9_:.-]+$/;
export const REASON_CODE_MAX_BYTES = 64;
export const REASON_DETAIL_MAX_BYTES = 4096;

/** Reason codes the platform itself emits. Workers may add their own. */
export const ReasonCode = {
  Timeout: "timeout",
  InvalidEnvelope: "invalid_envelope",
  UnsupportedSchemaVersion: "unsupported_schema_version",
  PayloadTooLarge: "payload_too_large",
  PayloadForeign: "payload_not_owned",
  PayloadMissing: "payload_missing",
  InputModeUnsupported: "input_mode_unsupported",
  InvalidInput: "invalid_input",
  InvalidOutput: "invalid_output",
  DeadLettered: "dead_lettered",
  HandlerError: "handler_error",
  /** The handler's thread reached its heap limit and was stopped; the same input would reach it again. */
  MemoryLimit: "memory_limit",
  /** The handler returned more than the component's output limit. */
  OutputTooLarge: "output_too_large",
  /** A completion hook (onCompleted) kept failing: the job is recorded failed instead of its Result coming back forever. */
  ChainFailed: "chain_failed",
} as const;
export type PlatformReasonCode = (typeof ReasonCode)[keyof typeof ReasonCode];

/** Returns why `code` is not a valid reason code, or undefined when it is. */
export function reasonCodeProblem(code: unknown): string | undefined {
  if (typeof code !== "string") return `expected a string, got ${typeof code}`;
  if (code.length === 0) return "expected a non-empty string";
  // The charset is ASCII-only, so the character count is the byte count once the charset holds.
  if (!REASON_CODE.test(code)) return "expected only the characters [a-z0-9_:.-]";
  if (code.length > REASON_CODE_MAX_BYTES) return `expected at most ${REASON_CODE_MAX_BYTES} bytes, got ${code.length}`;
  return undefined;
}

export function isReasonCode(code: unknown): code is string {
  return reasonCodeProblem(code) === undefined;
}

// C0 and C1 controls except tab and newline, which keep stack traces readable; DEL too.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: false });
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Makes any value safe to store as a reason_detail: valid UTF-8 (lone surrogates replaced with U+FFFD),
 * control characters stripped, at most 4096 bytes of UTF-8 (cut on a character boundary). It never throws: a detail is never a reason to
 * reject a Result.
 */
export function sanitizeReasonDetail(detail: unknown): string {
  let text: string;
  if (typeof detail === "string") text = detail;
  else if (detail instanceof Uint8Array) text = utf8Decoder.decode(detail);
  else if (detail instanceof Error) text = detail.stack ?? `${detail.name}: ${detail.message}`;
  else if (detail === undefined || detail === null) text = "";
  else {
    try {
      text = JSON.stringify(detail) ?? String(detail);
    } catch {
      text = String(detail);
    }
  }
  text = text.replace(LONE_SURROGATE, "\ufffd").replace(CONTROL_CHARS, "");
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so short strings skip the encode.
  if (text.length * 3 <= REASON_DETAIL_MAX_BYTES) return text;
  const bytes = utf8.encode(text);
  if (bytes.length <= REASON_DETAIL_MAX_BYTES) return text;
  let end = REASON_DETAIL_MAX_BYTES;
  // Back off continuation bytes (10xxxxxx) so the cut never splits a character.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return utf8Decoder.decode(bytes.subarray(0, end));
  return text;
}
