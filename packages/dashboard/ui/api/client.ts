import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./admin-api.gen.js";

type Schemas = components["schemas"];
export type JobRecord = Schemas["JobRecord"];
export type JobState = JobRecord["state"];
export type ComponentStatus = Schemas["ComponentStatus"];
export type DeadLetterRecord = Schemas["DeadLetterRecord"];
export type AuditEntry = Schemas["AuditEntry"];
export type AccessInfo = Schemas["AccessInfo"];
export type JobEvent = Schemas["JobEvent"];
export type ErrorBody = Schemas["Error"];
export type Connection = Schemas["Connection"];
export type GatewayAccount = Schemas["GatewayAccount"];
export type GatewayHealth = Schemas["GatewayHealth"];

export const JOB_STATES: readonly JobState[] = ["pending", "queued", "completed", "failed", "cancelled"];

const TOKEN_KEY = "tessera.adminToken";

/** The admin token the user entered, kept for this browser tab only. */
export const adminToken = {
  get(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token: string | null): void {
    if (token === null || token === "") sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  },
};

const withToken: Middleware = {
  onRequest({ request }) {
    const token = adminToken.get();
    if (token !== null) request.headers.set("authorization", `Bearer ${token}`);
    return request;
  },
};

/** Typed against the coordinator's OpenAPI document (admin-api.gen.ts): a route or field that changes fails the build. */
export const api = createClient<paths>({ baseUrl: window.location.origin });
api.use(withToken);

/** A failed call, with the coordinator's message when it sent one. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Unwraps an openapi-fetch answer: the data, or an ApiFailure with the coordinator's message. */
export async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let answer: { data?: T; error?: unknown; response: Response };
  try {
    answer = await call;
  } catch (err) {
    throw new ApiFailure(0, `cannot reach the coordinator: ${(err as Error).message}`);
  }
  const { data, error, response } = answer;
  if (response.ok && data !== undefined) return data;
  const body = (error as Partial<ErrorBody> | undefined)?.error;
  throw new ApiFailure(response.status, body?.message ?? `HTTP ${response.status} ${response.statusText}`, body?.code);
}
