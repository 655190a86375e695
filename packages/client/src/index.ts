/**
 * The coordinator's admin API for another process: a typed HTTP client, the API's TypeBox schemas, the
 * types derived from them (JobRecord, ComponentStatus, Page, ...) and its error codes. It depends on
 * @tessera/contract and TypeBox only, not on the coordinator (docs/decisions/0021-admin-api-types-and-client.md).
 *
 * ```ts
 * import { AdminApiError, AdminClient } from "@tessera/client";
 *
 * const admin = new AdminClient("http://127.0.0.1:7400", { token: process.env.TESSERA_ADMIN_TOKEN });
 * const { jobId } = await admin.submit({ component: "extract", input: { text: "hello" } });
 * const events = await admin.events({ jobId });
 * for await (const event of events) if (event.state !== "pending" && event.state !== "queued") break;
 * const job = await admin.job(jobId); // JobRecord: state, reasonCode, output, ...
 * try {
 *   await admin.cancel(jobId);
 * } catch (err) {
 *   if (!(err instanceof AdminApiError && err.code === "conflict")) throw err; // already finished
 * }
 * ```
 *
 * The schemas alone (no client) are the `@tessera/client/schemas` entry point, which the coordinator uses.
 */
export * from "./api-schemas.js";
export {
  AdminClient,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type AdminClientOptions,
  type EventStream,
  type JobEventStream,
} from "./admin-client.js";
export { AdminApiError, AdminClientError, CoordinatorUnreachableError, UnexpectedAnswerError } from "./errors.js";
export { readServerSentEvents, type ServerSentEvent } from "./read-server-sent-events.js";
