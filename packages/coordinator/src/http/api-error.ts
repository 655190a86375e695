import { formatIssue, type ValidationIssue } from "@tessera/contract";
import type { ErrorBody, ErrorCode } from "@tessera/client/schemas";
import { clipText } from "../clip-text.js";

// The codes and the body's shape are the API's, defined with its schemas in @tessera/client.
export { ERROR_CODES, type ErrorBody, type ErrorCode } from "@tessera/client/schemas";

/*
 * What an error body may hold. Messages and issues quote what the client sent (a field name, a value, a URL);
 * whatever it sent, the answer stays a few KiB.
 */
const MAX_MESSAGE = 2_048;
const MAX_ISSUE_PATH = 256;
const MAX_ISSUE_EXPECTED = 512;
const MAX_ISSUE_RECEIVED = 256;
/** A body with every field wrong would otherwise produce one issue per field and per broken rule. */
const MAX_ISSUES = 20;

function boundedIssue(issue: ValidationIssue): ValidationIssue {
  return {
    path: clipText(issue.path, MAX_ISSUE_PATH),
    expected: clipText(issue.expected, MAX_ISSUE_EXPECTED),
    received: clipText(issue.received, MAX_ISSUE_RECEIVED),
  };
}

/** A failure a route handler decided on; the error handler turns it into a response as is. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    readonly detail: { issues?: ValidationIssue[]; reason?: string } = {},
  ) {
    super(message);
  }

  /** The response body, every text in it bounded (MAX_MESSAGE, MAX_ISSUES, …). */
  toBody(): ErrorBody {
    const { issues, reason } = this.detail;
    return {
      error: {
        code: this.code,
        message: clipText(this.message, MAX_MESSAGE),
        ...(issues === undefined ? {} : { issues: issues.slice(0, MAX_ISSUES).map(boundedIssue) }),
        ...(reason === undefined ? {} : { reason }),
      },
    };
  }
}

export function notFound(message: string): ApiError {
  return new ApiError(404, "not_found", message);
}

export function conflict(message: string, reason: string): ApiError {
  return new ApiError(409, "conflict", message, { reason });
}

/** The 400 for a request that failed schema validation, one issue per bad field. */
export function invalidRequest(issues: ValidationIssue[]): ApiError {
  const shown = issues.slice(0, MAX_ISSUES).map(boundedIssue);
  return new ApiError(400, "invalid_request", `invalid request: ${shown.map(formatIssue).join("; ")}`, {
    issues: shown,
  });
}
