import { ContractValidationError } from "@tessera/contract";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { clipText } from "../clip-text.js";
import { CoordinatorError, type CoordinatorErrorCode } from "../errors.js";
import { ApiError, invalidRequest, type ErrorBody } from "./api-error.js";
import { issuesFromValidation } from "./validation-issues.js";

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && typeof (error as Partial<FastifyError>).code === "string";
}

const COORDINATOR_STATUS: Readonly<Record<CoordinatorErrorCode, number>> = {
  invalid_request: 400,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
};

/** Node's errors for a connection that could not be made or was cut. */
const NETWORK_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * Whether the store (Postgres) failed to take the request for a reason of its own, not the request's: it
 * cannot be reached, it is shutting down or starting, or it is out of resources (SQLSTATE class 08
 * connection exception, 53 insufficient resources such as 53100 disk full, 57P operator intervention).
 */
function isStoreUnavailable(error: unknown): error is Error {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && NETWORK_ERRORS.has(code)) return true;
  if (typeof code === "string" && /^(08|53|57P)[0-9A-Z]{2,3}$/.test(code)) return true;
  return /^(Connection terminated|timeout exceeded when trying to connect)/.test(error.message);
}

function toApiError(error: unknown, bodyLimit: number): ApiError {
  if (error instanceof ApiError) return error;
  if (isStoreUnavailable(error)) {
    // Retryable, and said so: a submit that got this may or may not have been recorded.
    return new ApiError(
      503,
      "unavailable",
      `the job store is unavailable: ${error.message}; retry with the same idempotencyKey`,
    );
  }
  if (error instanceof CoordinatorError) {
    return new ApiError(
      COORDINATOR_STATUS[error.code],
      error.code,
      error.message,
      error.issues.length > 0 ? { issues: [...error.issues] } : {},
    );
  }
  if (error instanceof ContractValidationError) {
    return new ApiError(400, "invalid_request", error.message, { issues: [...error.issues] });
  }
  if (isFastifyError(error)) {
    if (error.validation !== undefined)
      return invalidRequest(issuesFromValidation(error.validation, error.validationContext ?? "body"));
    switch (error.code) {
      // Fastify's own messages for these quote the whole path.
      case "FST_ERR_BAD_URL":
        return new ApiError(400, "invalid_request", "the request path is not valid percent-encoded UTF-8");
      case "FST_ERR_MAX_PARAM_LENGTH":
        return invalidRequest([
          {
            path: "params",
            expected: `path parameters of at most ${MAX_PARAM_LENGTH} characters`,
            received: "a longer one",
          },
        ]);
      case "FST_ERR_CTP_INVALID_JSON_BODY":
        return new ApiError(
          400,
          "invalid_request",
          "the request body is not valid JSON (content-type is application/json)",
        );
      case "FST_ERR_CTP_BODY_TOO_LARGE":
        return new ApiError(
          413,
          "payload_too_large",
          `the request body is larger than the ${bodyLimit / (1024 * 1024)} MiB limit`,
        );
    }
    // Fastify's other client errors (unsupported media type, bad content-length, …) keep their status.
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return new ApiError(status, "invalid_request", error.message);
  }
  return new ApiError(500, "internal", error instanceof Error ? error.message : String(error));
}

/**
 * Longer path parameters are refused by the router before any schema sees them. Node refuses request lines
 * over its 16 KiB header limit anyway, so at this length a too-long parameter reaches its route's schema,
 * which names it (`params.jobId`).
 */
export const MAX_PARAM_LENGTH = 16 * 1024;

/**
 * Fastify's `frameworkErrors`: what the router refuses before any hook runs (a path that is not valid
 * percent-encoding, an overlong path parameter), answered with the one error body too.
 */
export function frameworkErrorHandler(
  bodyLimit: number,
  scrub: Scrub = (text) => text,
): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return (error, _request, reply) => {
    const apiError = toApiError(error, bodyLimit);
    void reply.code(apiError.statusCode).send(scrubbed(apiError.toBody(), scrub));
  };
}

/** Removes secret values from text (the coordinator's `settings.scrub`). */
export type Scrub = (text: string) => string;

/**
 * An error body with every secret scrubbed out: messages quote what the request sent and what a parser
 * saw, and a secret pasted into the wrong field must not come back in the answer or the audit log.
 */
function scrubbed(body: ErrorBody, scrub: Scrub): ErrorBody {
  return JSON.parse(scrub(JSON.stringify(body))) as ErrorBody;
}

/** Every failure, from Fastify, Ajv, the contract or a handler, answers with the one error body, secrets scrubbed. */
export function installErrorHandling(app: FastifyInstance, bodyLimit: number, scrub: Scrub = (text) => text): void {
  app.setErrorHandler((error: unknown, request, reply) => {
    const apiError = toApiError(error, bodyLimit);
    if (apiError.statusCode >= 500)
      request.log.error(
        {
          err: {
            type: error instanceof Error ? error.name : typeof error,
            message: scrub(apiError.message),
            stack: error instanceof Error ? scrub(error.stack ?? "") : undefined,
          },
        },
        `admin API: ${request.method} ${scrub(request.url)} failed`,
      );
    return reply.code(apiError.statusCode).send(scrubbed(apiError.toBody(), scrub));
  });
  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = {
      error: {
        code: "not_found",
        message: `no route ${request.method} ${clipText(request.url.split("?")[0] ?? "", 200)}; the routes are listed at GET /openapi.json`,
      },
    };
    return reply.code(404).send(scrubbed(body, scrub));
  });
}
