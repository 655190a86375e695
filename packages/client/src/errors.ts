import type { ApiIssue, ErrorCode } from "./api-schemas.js";

/** Anything the admin client could not turn into an answer: the base of its errors. */
export class AdminClientError extends Error {
  override readonly name: string = "AdminClientError";
}

/** The coordinator answered with an error status (and, unless a proxy answered, its error body `{error: {...}}`). */
export class AdminApiError extends AdminClientError {
  override readonly name = "AdminApiError";
  /** The HTTP status. */
  readonly status: number;
  /** The body's `code`; without a body, the code the status stands for (`internal` when none does). */
  readonly code: ErrorCode;
  /** The request, e.g. `POST /api/v1/jobs`. */
  readonly request: string;
  /** One entry per bad field (`invalid_request`). */
  readonly issues: readonly ApiIssue[];
  /** Why a conflict happened: `already_finished` (cancel) or `not_failed` (redrive). */
  readonly reason: string | undefined;
  /** The body's own message; undefined when the answer held no error body (a proxy's HTML page, say). */
  readonly serverMessage: string | undefined;

  constructor(fields: {
    status: number;
    code: ErrorCode;
    request: string;
    message: string;
    issues?: readonly ApiIssue[];
    reason?: string;
    serverMessage?: string;
  }) {
    super(fields.message);
    this.status = fields.status;
    this.code = fields.code;
    this.request = fields.request;
    this.issues = fields.issues ?? [];
    this.reason = fields.reason;
    this.serverMessage = fields.serverMessage;
  }
}

/** No HTTP answer at all: refused, unresolvable, timed out or cut off. */
export class CoordinatorUnreachableError extends AdminClientError {
  override readonly name = "CoordinatorUnreachableError";
  constructor(
    /** The coordinator's base URL. */
    readonly url: string,
    /** What went wrong, e.g. `ECONNREFUSED` or `no answer within 30s`. */
    readonly reason: string,
  ) {
    super(`cannot reach the coordinator at ${url} (${reason})`);
  }
}

/** An answer that is not what a Tessera coordinator sends (not JSON, an empty event stream): the URL is likely wrong. */
export class UnexpectedAnswerError extends AdminClientError {
  override readonly name = "UnexpectedAnswerError";
}
