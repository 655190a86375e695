import type { Static } from "@sinclair/typebox";
import type { Message } from "@tessera/contract";
import {
  ADMIN_BODY_LIMIT_BYTES,
  ERROR_CODES,
  type ApiIssue,
  type ComponentStatus,
  type ConnectionBegin,
  type ConnectionList,
  type Connection,
  type DisconnectOutcome,
  type ListConnectionsQuery,
  type DeadLetterFilter,
  type DeadLetterRecord,
  type ErrorCode,
  type GatewayAccountList,
  type GatewayAccountView,
  type GatewayHealth,
  type GatewayInstall,
  type GatewaySealed,
  type GatewayTenantList,
  type InstallGatewayAccountBody,
  type ListGatewayAccountsQuery,
  type PutGatewayAccountBody,
  type RotateGatewayCredentialsBody,
  type JobEvent,
  type JobEventsQuery,
  type JobFilter,
  type JobRecord,
  type Page,
  type ResolvedSetting,
  type SubmitJobBody,
  type SubmitOutcome,
  type componentListResponse,
  type jobChangeResponse,
  type redriveAllResponse,
  type settingListResponse,
} from "./api-schemas.js";
import { AdminApiError, CoordinatorUnreachableError, UnexpectedAnswerError } from "./errors.js";
import { readServerSentEvents, type ServerSentEvent } from "./read-server-sent-events.js";

/** Plain requests give up after this long by default; a coordinator that accepts but never answers counts as unreachable. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** The code an error status stands for when the answer carried no error body (a proxy answered, say). */
const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: "invalid_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  413: "payload_too_large",
  503: "unavailable",
};

const isErrorCode = (code: unknown): code is ErrorCode =>
  typeof code === "string" && (ERROR_CODES as readonly string[]).includes(code);

export interface AdminClientOptions {
  /** The coordinator's admin token (TESSERA_ADMIN_TOKEN), sent as a bearer token with every request when set. */
  token?: string;
  /** How long a plain request may take (event streams are not limited); default DEFAULT_REQUEST_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** Events as they happen; `close()` ends the connection (also when never iterated). */
export interface EventStream<T> extends AsyncIterable<T> {
  close(): void;
}

/** Job events as they are recorded; `close()` ends the connection (also when never iterated). */
export type JobEventStream = EventStream<JobEvent>;

function formatMebibytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "")} MiB`;
}

/**
 * A typed client for the coordinator's admin HTTP API (docs/admin-api.md). Answers are typed by the API's
 * schemas; failures are AdminApiError (the coordinator answered with an error), CoordinatorUnreachableError
 * (no answer) or UnexpectedAnswerError (an answer no coordinator sends).
 */
export class AdminClient {
  readonly baseUrl: URL;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(baseUrl: URL | string, options: AdminClientOptions = {}) {
    this.baseUrl = new URL(baseUrl);
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** The base URL as the user would type it, for messages. */
  get displayUrl(): string {
    return this.baseUrl.href.replace(/\/$/, "");
  }

  async components(): Promise<ComponentStatus[]> {
    return (await this.json<Static<ReturnType<typeof componentListResponse>>>("GET", "/api/v1/components")).items;
  }

  component(name: string): Promise<ComponentStatus> {
    return this.json("GET", `/api/v1/components/${encodeURIComponent(name)}`);
  }

  /** Every setting with its class, source and value in force (a secret's value is "(set)" or null). */
  async settings(): Promise<ResolvedSetting[]> {
    return (await this.json<Static<ReturnType<typeof settingListResponse>>>("GET", "/api/v1/settings")).items;
  }

  /** Answers 201 for a new job and 200 when the idempotency key matched an existing one (`created: false`). */
  submit(request: SubmitJobBody): Promise<SubmitOutcome> {
    return this.json("POST", "/api/v1/jobs", { body: request });
  }

  job(jobId: string): Promise<JobRecord> {
    return this.json("GET", `/api/v1/jobs/${encodeURIComponent(jobId)}`);
  }

  listJobs(filter: JobFilter = {}): Promise<Page<JobRecord>> {
    return this.json("GET", "/api/v1/jobs", { query: { ...filter } });
  }

  /** The job as it is after the cancel; a finished job is a conflict (`reason: already_finished`). */
  async cancel(jobId: string): Promise<JobRecord> {
    const path = `/api/v1/jobs/${encodeURIComponent(jobId)}/cancel`;
    return (await this.json<Static<ReturnType<typeof jobChangeResponse>>>("POST", path)).job;
  }

  deadLetters(filter: DeadLetterFilter = {}): Promise<Page<DeadLetterRecord>> {
    return this.json("GET", "/api/v1/dlq", { query: { ...filter } });
  }

  /** The job as it is after the redrive; a job that is not dead-lettered is a conflict (`reason: not_failed`). */
  async redrive(jobId: string): Promise<JobRecord> {
    const path = `/api/v1/dlq/${encodeURIComponent(jobId)}/redrive`;
    return (await this.json<Static<ReturnType<typeof jobChangeResponse>>>("POST", path)).job;
  }

  /** Redrives every dead-lettered, not yet redriven job of a component; returns their ids. */
  async redriveAll(component: string): Promise<string[]> {
    const body = { component };
    return (await this.json<Static<ReturnType<typeof redriveAllResponse>>>("POST", "/api/v1/dlq/redrive", { body }))
      .jobIds;
  }

  /** Connections to providers and the providers configured; `configured: false` when the coordinator has no connectors. */
  connections(filter: ListConnectionsQuery = {}): Promise<ConnectionList> {
    return this.json("GET", "/api/v1/connections", { query: { ...filter } });
  }

  connection(provider: string, userId: string): Promise<Connection> {
    return this.json("GET", connectionPath(provider, userId));
  }

  /** Begins a connection: the answer's `redirectUrl` is where the user gives consent (good once, for 10 minutes). */
  beginConnection(provider: string, userId: string): Promise<ConnectionBegin> {
    return this.json("POST", "/api/v1/connections", { body: { provider, userId } });
  }

  /** Revokes the connection at the provider (when it can) and wipes its tokens here. */
  disconnect(provider: string, userId: string): Promise<DisconnectOutcome> {
    return this.json("DELETE", connectionPath(provider, userId));
  }

  /**
   * Opens `GET /api/v1/events` and resolves once the coordinator has answered, so every event recorded
   * after that is seen. Iterate for job events; `close()` (or leaving the loop) ends the connection.
   */
  async events(filter: JobEventsQuery = {}): Promise<JobEventStream> {
    return this.eventStream<JobEvent>("/api/v1/events", { ...filter }, "job");
  }

  // ---- the gateway's control plane (docs/gateway.md#control-plane) ----

  gatewayTenants(): Promise<GatewayTenantList> {
    return this.json("GET", "/api/v1/gateway/tenants");
  }

  gatewayAccounts(filter: ListGatewayAccountsQuery = {}): Promise<GatewayAccountList> {
    return this.json("GET", "/api/v1/gateway/accounts", { query: { ...filter } });
  }

  gatewayAccount(channelType: string, tenant: string, account: string): Promise<GatewayAccountView> {
    return this.json("GET", gatewayAccountPath(channelType, tenant, account));
  }

  /** Installs an account or changes the fields given (disabled, rateLimit, settings). */
  putGatewayAccount(
    channelType: string,
    tenant: string,
    account: string,
    body: PutGatewayAccountBody,
  ): Promise<GatewayAccountView> {
    return this.json("PUT", gatewayAccountPath(channelType, tenant, account), { body });
  }

  /** Sets or rotates an account's credentials; the answer is metadata only. */
  rotateGatewayCredentials(
    channelType: string,
    tenant: string,
    account: string,
    body: RotateGatewayCredentialsBody,
  ): Promise<GatewayAccountView> {
    return this.json("POST", `${gatewayAccountPath(channelType, tenant, account)}/credentials`, { body });
  }

  /** Begins installing an account through a connector's OAuth flow: the provider's consent URL to open. */
  installGatewayAccount(
    channelType: string,
    tenant: string,
    account: string,
    body: InstallGatewayAccountBody,
  ): Promise<GatewayInstall> {
    return this.json("POST", `${gatewayAccountPath(channelType, tenant, account)}/install`, { body });
  }

  deleteGatewayAccount(channelType: string, tenant: string, account: string): Promise<{ deleted: true }> {
    return this.json("DELETE", gatewayAccountPath(channelType, tenant, account));
  }

  /** The account's credentials sealed by the vault (undefined when it holds none or does not exist). */
  async gatewaySealed(channelType: string, tenant: string, account: string): Promise<GatewaySealed | undefined> {
    try {
      return await this.json<GatewaySealed>("GET", `${gatewayAccountPath(channelType, tenant, account)}/sealed`);
    } catch (err) {
      if (err instanceof AdminApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  gatewayHealth(): Promise<GatewayHealth> {
    return this.json("GET", "/api/v1/gateway/health");
  }

  /** The gateway's inbound messages as they are stored, from now on; `close()` ends the stream. */
  gatewayTail(filter: ListGatewayAccountsQuery = {}): Promise<EventStream<Message>> {
    return this.eventStream<Message>("/api/v1/gateway/tail", { ...filter }, "message");
  }

  /**
   * Opens a server-sent event stream and resolves once the coordinator has answered, so every event after that
   * is seen. Iterate for the `event` type's data; `close()` (or leaving the loop) ends the connection.
   */
  private async eventStream<T>(
    route: string,
    query: Record<string, string | undefined>,
    eventType: string,
  ): Promise<EventStream<T>> {
    const abort = new AbortController();
    const response = await this.send("GET", route, { query, stream: abort.signal });
    const body = response.body;
    const url = this.displayUrl;
    if (body === null) throw new UnexpectedAnswerError(`the coordinator at ${url} sent an empty event stream`);
    async function* events(): AsyncGenerator<T> {
      const messages = readServerSentEvents(body as ReadableStream<Uint8Array>);
      try {
        for (;;) {
          let next: IteratorResult<ServerSentEvent>;
          try {
            next = await messages.next();
          } catch (err) {
            if (abort.signal.aborted) return;
            throw new CoordinatorUnreachableError(url, `event stream cut off: ${failureCause(err, 0)}`);
          }
          if (next.done === true) return;
          if (next.value.event !== eventType) continue;
          let event: T;
          try {
            event = JSON.parse(next.value.data) as T;
          } catch {
            throw new UnexpectedAnswerError(
              `the coordinator at ${url} sent a ${eventType} event that is not JSON: ${next.value.data.slice(0, 80)}`,
            );
          }
          yield event;
        }
      } finally {
        await messages.return(undefined);
      }
    }
    return { [Symbol.asyncIterator]: events, close: () => abort.abort() };
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
      throw new UnexpectedAnswerError(
        `unexpected answer from ${this.displayUrl}${route}: HTTP ${response.status} but not JSON — is the URL pointing at a Tessera coordinator?`,
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
        signal: opts.stream ?? AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new CoordinatorUnreachableError(this.displayUrl, failureCause(err, this.timeoutMs));
    }
    if (!response.ok) throw await this.apiError(response, `${method} ${url.pathname}`);
    return response;
  }

  private async apiError(response: Response, request: string): Promise<AdminApiError> {
    const status = response.status;
    let body: unknown;
    try {
      body = JSON.parse(await response.text());
    } catch {
      body = undefined;
    }
    const error = (body as { error?: { code?: unknown; message?: unknown; issues?: unknown; reason?: unknown } })
      ?.error;
    const serverMessage = typeof error?.message === "string" ? error.message : undefined;
    const code = isErrorCode(error?.code) ? error.code : (CODE_BY_STATUS[status] ?? "internal");
    const fields = {
      status,
      request,
      ...(serverMessage !== undefined ? { serverMessage } : {}),
      ...(Array.isArray(error?.issues) ? { issues: error.issues as ApiIssue[] } : {}),
      ...(typeof error?.reason === "string" ? { reason: error.reason } : {}),
    };
    if (status === 413) {
      // A proxy in front may answer 413 too, with HTML; the coordinator's own message names its limit.
      const said = serverMessage !== undefined ? `; the coordinator said: ${serverMessage}` : "";
      const limit = `limit ${formatMebibytes(ADMIN_BODY_LIMIT_BYTES)} per request`;
      return new AdminApiError({
        ...fields,
        code: "payload_too_large",
        message: `${request}: too large (${limit})${said}`,
      });
    }
    const message = serverMessage ?? `${request} at ${this.displayUrl} answered HTTP ${status}`;
    return new AdminApiError({ ...fields, code, message });
  }
}

function gatewayAccountPath(channelType: string, tenant: string, account: string): string {
  return `/api/v1/gateway/accounts/${[channelType, tenant, account].map(encodeURIComponent).join("/")}`;
}

function connectionPath(provider: string, userId: string): string {
  return `/api/v1/connections/${encodeURIComponent(provider)}/${encodeURIComponent(userId)}`;
}

function failureCause(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && err.name === "TimeoutError") return `no answer within ${timeoutMs / 1000}s`;
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (typeof cause?.code === "string") return cause.code;
  if (typeof cause?.message === "string") return cause.message;
  return err instanceof Error ? err.message : String(err);
}
