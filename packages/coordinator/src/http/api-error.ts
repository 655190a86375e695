import { formatIssue, type ValidationIssue } from "@tessera/contract";

export const ERROR_CODES = [
  "invalid_request",
  "unauthorized",
  "forbidden",
  "not_found",
  "conflict",
  "payload_too_large",
  "unavailable",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The body of every error response, whatever produced it. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    issues?: ValidationIssue[];
    /** Why a conflict happened, for clients that branch on it (`already_finished`, `not_failed`). */
    reason?: string;
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

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...this.detail } };
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
  return new ApiError(400, "invalid_request", `invalid request: ${issues.map(formatIssue).join("; ")}`, { issues });
}
