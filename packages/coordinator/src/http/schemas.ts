import { ErrorBodySchema, ref } from "@tessera/client/schemas";

/*
 * The admin API's schemas live in @tessera/client, so a client gets the same schemas and the types derived
 * from them without depending on the coordinator (docs/decisions/0021-admin-api-types-and-client.md).
 */
export * from "@tessera/client/schemas";

/** A route's own responses plus the error body for the given statuses and for any failure of the coordinator. */
export function withErrors(responses: Record<number, unknown>, ...errorStatuses: number[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...responses };
  for (const status of errorStatuses) out[status] = ref(ErrorBodySchema);
  out["5xx"] = ref(ErrorBodySchema);
  return out;
}
