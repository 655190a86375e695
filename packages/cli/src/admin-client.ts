import {
  ADMIN_BODY_LIMIT_BYTES,
  type ComponentStatus,
  type DeadLetterRecord,
  type JobEvent,
  type JobFilter,
  type JobRecord,
  type Page,
  type SubmitOutcome,
} from "@tessera/coordinator";
import { CliError, usageError } from "./cli-error.js";
import { ExitCode } from "./exit-codes.js";
import { formatMebibytes } from "./output/format.js";
import { readServerSentEvents, type ServerSentEvent } from "@tessera/client";

export const DEFAULT_ADMIN_URL = "http://127.0.0.1:7400";
/** The largest page the list routes serve (`limit` is 1..500). */
export const MAX_PAGE_SIZE = 500;

/** Room in a submit's body for what surrounds a file: component, metadata (32 × 576 bytes at most), keys. */
const REQUEST_ROOM_BYTES = 64 * 1024;

/** The largest file one submit can carry: base64 turns every 3 bytes into 4 characters of the JSON body. */
export const MAX_SUBMIT_FILE_BYTES = Math.floor((ADMIN_BODY_LIMIT_BYTES - REQUEST_ROOM_BYTES) / 4) * 3;

/** What "too large" means for a submit, in the same words whether the CLI or the coordinator found it. */
export const SUBMIT_SIZE_LIMIT = `limit ${formatMebibytes(ADMIN_BODY_LIMIT_BYTES)} per request, so ${formatMebibytes(MAX_SUBMIT_FILE_BYTES)} (${MAX_SUBMIT_FILE_BYTES} bytes) per file, which travels base64-encoded`;

/** Plain requests give up after this long; a coordinator that accepts but never answers counts as unreachable. */
const REQUEST_TIMEOUT_MS = 30_000;

/** One field the coordinator rejected: `body.component`, what it expected, what arrived. */
export interface AdminApiIssue {
  path: string;
  expected: string;
  received: string;
}

export type AdminErrorCode =
  | "invalid_request"
  | "unauthorized"
  | "forbidden"
  | "payload_too_large"
  | "not_found"
  | "conflict"
  | "unavailable"
  | "internal";

const EXIT_BY_CODE: Record<AdminErrorCode, ExitCode> = {
  invalid_request: ExitCode.Usage,
  unauthorized: ExitCode.Failed,
  forbidden: ExitCode.Failed,
  // The request was well-formed and reached the coordinator; it is the input that cannot go this way.
  payload_too_large: ExitCode.Failed,
  not_found: ExitCode.NotFound,
  conflict: ExitCode.Conflict,
  unavailable: ExitCode.Unreachable,
  internal: ExitCode.Failed,
};

const CODE_BY_STATUS: Record<number, AdminErrorCode> = {
  400: "invalid_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  413: "payload_too_large",
  503: "unavailable",
};

/** The coordinator answered with an error body (`{error: {code, message, issues}}`). */
export class AdminApiError extends CliError {
  override readonly name = "AdminApiError";
  constructor(
    readonly status: number,
    readonly code: AdminErrorCode,
    message: string,
    readonly issues: readonly AdminApiIssue[] = [],
  ) {
    // The coordinator's message often already lists the issues; each is printed once.
    super(
      message,
      EXIT_BY_CODE[code],
      issues
        .map((i) => `${i.path}: expected ${i.expected}, got ${i.received}`)
        .filter((line) => !message.includes(line)),
    );
  }
}

/** No HTTP answer at all: refused, unresolvable, timed out or cut off. */
export class CoordinatorUnreachableError extends CliError {
  override readonly name = "CoordinatorUnreachableError";
  constructor(
    readonly url: string,
    cause: string,
  ) {
    super(
      `cannot reach the coordinator at ${url} (${cause}) — is \`tessera dev\` running? Point --url or TESSERA_URL at another coordinator.`,
      ExitCode.Unreachable,
    );
  }
}

export type SubmitInputBody = { json: unknown } | { text: string } | { base64: string };

/** The body of `POST /api/v1/jobs`. */
export interface SubmitRequest {
  component: string;
  input: SubmitInputBody;
  idempotencyKey?: string;
  metadata?: Record<string, string>;
  deadline?: string;
  limits?: { maxBytes?: number; wallClockMs?: number };
  contentType?: string;
}

/** Job events as they are recorded; `close()` ends the connection (also when never iterated). */
export interface JobEventStream extends AsyncIterable<JobEvent> {
  close(): void;
}

export interface DeadLetterFilter {
  component?: string;
  cursor?: string;
  limit?: number;
}

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

function failureCause(err: unknown): string {
  if (err instanceof Error && err.name === "TimeoutError") return `no answer within ${REQUEST_TIMEOUT_MS / 1000}s`;
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (typeof cause?.code === "string") return cause.code;
  if (typeof cause?.message === "string") return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** A typed client for the coordinator's admin HTTP API (docs/admin-api.md). */
export class AdminClient {
  readonly baseUrl: URL;

  /** `token`: the coordinator's admin token (TESSERA_ADMIN_TOKEN), sent with every request when set. */
  constructor(
    baseUrl: URL | string,
    private readonly token?: string,
  ) {
    this.baseUrl = new URL(baseUrl);
  }

  /** The base URL as the user would type it, for messages. */
  get displayUrl(): string {
    return this.baseUrl.href.replace(/\/$/, "");
  }

  async components(): Promise<ComponentStatus[]> {
    return (await this.json<{ items: ComponentStatus[] }>("GET", "/api/v1/components")).items;
  }

  component(name: string): Promise<ComponentStatus> {
    return this.json("GET", `/api/v1/components/${encodeURIComponent(name)}`);
  }

  submit(request: SubmitRequest): Promise<SubmitOutcome> {
    return this.json("POST", "/api/v1/jobs", { body: request });
  }

  job(jobId: string): Promise<JobRecord> {
    return this.json("GET", `/api/v1/jobs/${encodeURIComponent(jobId)}`);
  }

  listJobs(filter: JobFilter = {}): Promise<Page<JobRecord>> {
    return this.json("GET", "/api/v1/jobs", { query: { ...filter } });
  }

  async cancel(jobId: string): Promise<JobRecord> {
    return (await this.json<{ job: JobRecord }>("POST", `/api/v1/jobs/${encodeURIComponent(jobId)}/cancel`)).job;
  }

  deadLetters(filter: DeadLetterFilter = {}): Promise<Page<DeadLetterRecord>> {
    return this.json("GET", "/api/v1/dlq", { query: { ...filter } });
  }

  async redrive(jobId: string): Promise<JobRecord> {
    return (await this.json<{ job: JobRecord }>("POST", `/api/v1/dlq/${encodeURIComponent(jobId)}/redrive`)).job;
  }

  async redriveAll(component: string): Promise<string[]> {
    return (await this.json<{ jobIds: string[] }>("POST", "/api/v1/dlq/redrive", { body: { component } })).jobIds;
  }

  /**
   * Opens `GET /api/v1/events` and resolves once the coordinator has answered, so every event recorded
   * after that is seen. Iterate for job events; `close()` (or leaving the loop) ends the connection.
   */
  async events(filter: { component?: string; jobId?: string } = {}): Promise<JobEventStream> {
    const abort = new AbortController();
    const response = await this.send("GET", "/api/v1/events", { query: filter, stream: abort.signal });
    const body = response.body;
    if (body === null)
      throw new CliError(`the coordinator at ${this.displayUrl} sent an empty event stream`, ExitCode.Failed);
    const url = this.displayUrl;
    async function* jobEvents(): AsyncGenerator<JobEvent> {
      const messages = readServerSentEvents(body as ReadableStream<Uint8Array>);
      try {
        for (;;) {
          let next: IteratorResult<ServerSentEvent>;
          try {
            next = await messages.next();
          } catch (err) {
            if (abort.signal.aborted) return;
            throw new CoordinatorUnreachableError(url, `event stream cut off: ${failureCause(err)}`);
          }
          if (next.done === true) return;
          if (next.value.event !== "job") continue;
          let event: JobEvent;
          try {
            event = JSON.parse(next.value.data) as JobEvent;
          } catch {
            throw new CliError(
              `the coordinator at ${url} sent a job event that is not JSON: ${next.value.data.slice(0, 80)}`,
              ExitCode.Failed,
            );
          }
          yield event;
        }
      } finally {
        await messages.return(undefined);
      }
    }
    return { [Symbol.asyncIterator]: jobEvents, close: () => abort.abort() };
  }

  private async json<T>(
    method: string,
    route: string,
    opts: { query?: Record<string, string | number | undefined>; body?: unknown } = {},
  ): Promise<T> {
    const response = await this.send(method, route, opts);
    const text = await response.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(
        `unexpected answer from ${this.displayUrl}${route}: HTTP ${response.status} but not JSON — is --url pointing at a Tessera coordinator?`,
        ExitCode.Failed,
      );
    }
  }

  private async send(
    method: string,
    route: string,
    opts: { query?: Record<string, string | number | undefined>; body?: unknown; stream?: AbortSignal },
  ): Promise<Response> {
    const url = new URL(this.baseUrl.pathname.replace(/\/$/, "") + route, this.baseUrl);
    for (const [name, value] of Object.entries(opts.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          accept: opts.stream !== undefined ? "text/event-stream" : "application/json",
          ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
          ...(this.token !== undefined ? { authorization: `Bearer ${this.token}` } : {}),
        },
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        // An event stream stays open until its reader aborts it; only plain requests time out.
        signal: opts.stream ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new CoordinatorUnreachableError(this.displayUrl, failureCause(err));
    }
    if (!response.ok) throw await this.apiError(response, `${method} ${url.pathname}`);
    return response;
  }

  private async apiError(response: Response, what: string): Promise<AdminApiError> {
    const code = CODE_BY_STATUS[response.status] ?? "internal";
    let body: unknown;
    try {
      body = JSON.parse(await response.text());
    } catch {
      body = undefined;
    }
    const error = (body as { error?: { code?: unknown; message?: unknown; issues?: unknown } } | undefined)?.error;
    if (response.status === 413) {
      // A proxy in front may answer 413 too, with HTML; the coordinator's own message names its limit.
      const said = typeof error?.message === "string" ? `; the coordinator said: ${error.message}` : "";
      return new AdminApiError(413, "payload_too_large", `${what}: too large (${SUBMIT_SIZE_LIMIT})${said}`);
    }
    if (error === undefined || typeof error.message !== "string") {
      return new AdminApiError(response.status, code, `${what} at ${this.displayUrl} answered HTTP ${response.status}`);
    }
    const known = typeof error.code === "string" && error.code in EXIT_BY_CODE ? (error.code as AdminErrorCode) : code;
    return new AdminApiError(
      response.status,
      known,
      error.message,
      Array.isArray(error.issues) ? (error.issues as AdminApiIssue[]) : [],
    );
  }
}
