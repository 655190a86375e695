import {
  ADMIN_BODY_LIMIT_BYTES,
  AdminApiError,
  CoordinatorUnreachableError,
  UnexpectedAnswerError,
  type ErrorCode,
} from "@tessera/client";
import { CliError, usageError } from "./cli-error.js";
import { ExitCode } from "./exit-codes.js";
import { formatMebibytes } from "./output/format.js";

/*
 * The CLI's side of the admin API: the client itself is @tessera/client; here are where the URL comes from,
 * what a file may weigh, and how the client's errors become messages and exit codes.
 */

export const DEFAULT_ADMIN_URL = "http://127.0.0.1:7400";

/** Room in a submit's body for what surrounds a file: component, metadata (32 × 576 bytes at most), keys. */
const REQUEST_ROOM_BYTES = 64 * 1024;

/** The largest file one submit can carry: base64 turns every 3 bytes into 4 characters of the JSON body. */
export const MAX_SUBMIT_FILE_BYTES = Math.floor((ADMIN_BODY_LIMIT_BYTES - REQUEST_ROOM_BYTES) / 4) * 3;

/** What "too large" means for a submit, in the same words whether the CLI or the coordinator found it. */
export const SUBMIT_SIZE_LIMIT = `limit ${formatMebibytes(ADMIN_BODY_LIMIT_BYTES)} per request, so ${formatMebibytes(MAX_SUBMIT_FILE_BYTES)} (${MAX_SUBMIT_FILE_BYTES} bytes) per file, which travels base64-encoded`;

const EXIT_BY_CODE: Record<ErrorCode, ExitCode> = {
  invalid_request: ExitCode.Usage,
  unauthorized: ExitCode.Failed,
  forbidden: ExitCode.Failed,
  // The request was well-formed and reached the coordinator; it is the input that cannot go this way.
  payload_too_large: ExitCode.Failed,
  not_found: ExitCode.NotFound,
  conflict: ExitCode.Conflict,
  unavailable: ExitCode.Unreachable,
  // A third-party provider (a connection's) answered with an error: the operation ran and failed.
  bad_gateway: ExitCode.Failed,
  internal: ExitCode.Failed,
};

/**
 * Picks the admin URL: `--url`, else `TESSERA_URL`, else the `tessera dev` default. A malformed value
 * is a usage error naming where it came from.
 */
export function resolveAdminUrl(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): URL {
  const fromEnv = env["TESSERA_URL"];
  const [source, value] =
    flag !== undefined
      ? ["--url", flag]
      : fromEnv !== undefined && fromEnv !== ""
        ? ["TESSERA_URL", fromEnv]
        : ["default", DEFAULT_ADMIN_URL];
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw usageError(`${source}: expected an http(s) URL such as ${DEFAULT_ADMIN_URL}, got ${JSON.stringify(value)}`);
  }
  return url;
}

/** An admin API answer as the user sees it: the message, each issue once, the exit code scripts branch on. */
export function apiErrorToCliError(err: AdminApiError): CliError {
  if (err.code === "payload_too_large") {
    const said = err.serverMessage !== undefined ? `; the coordinator said: ${err.serverMessage}` : "";
    return new CliError(`${err.request}: too large (${SUBMIT_SIZE_LIMIT})${said}`, ExitCode.Failed);
  }
  // The coordinator's message often already lists the issues; each is printed once.
  const details = err.issues
    .map((i) => `${i.path}: expected ${i.expected}, got ${i.received}`)
    .filter((line) => !err.message.includes(line));
  return new CliError(err.message, EXIT_BY_CODE[err.code], details);
}

/** The admin client's errors as CLI errors (undefined for anything else). */
export function adminCliError(err: unknown): CliError | undefined {
  if (err instanceof AdminApiError) return apiErrorToCliError(err);
  if (err instanceof CoordinatorUnreachableError) {
    return new CliError(
      `${err.message} — is \`tessera dev\` running? Point --url or TESSERA_URL at another coordinator.`,
      ExitCode.Unreachable,
    );
  }
  if (err instanceof UnexpectedAnswerError) {
    return new CliError(err.message, ExitCode.Failed);
  }
  return undefined;
}
