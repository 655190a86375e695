export * from "./api-schemas.js";
export { readServerSentEvents, type ServerSentEvent } from "./read-server-sent-events.js";
