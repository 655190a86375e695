import { ErrorBodySchema, ref } from "@tessera/client/schemas";

/*
 * The admin API's schemas live in @tessera/client, so a client gets the same schemas and the types derived
 * from them without depending on the coordinator (docs/decisions/0021-admin-api-types-and-client.md).
 */
export * from "@tessera/client/schemas";

/**
 * A route's own responses plus the error body for the statuses only it answers (404, 409, …). The statuses
 * every route may answer (400, 403, 5XX, and 401, 413, 415 where they apply) are added to every route in
 * openapi.ts.
 */
export function withErrors(responses: Record<number, unknown>, ...errorStatuses: number[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...responses };
  for (const status of errorStatuses) out[status] = ref(ErrorBodySchema);
  return out;
}
