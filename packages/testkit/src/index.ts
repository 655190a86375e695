/**
 * Shared test harnesses that start real servers on loopback. Used by every package's tests.
 *
 * ```ts
 * const nats = await startNatsServer();
 * // ... connect to nats.url ...
 * await nats.stop();
 * ```
 */
export { startNatsServer, freePort, type NatsServerHandle } from "./nats-server.js";
export { startPostgres, type PostgresHandle } from "./postgres.js";
export { waitFor, sleep } from "./wait-for.js";
export { spawnTsProcess, type TsProcess } from "./ts-process.js";
export { withOverrides } from "./bus-overrides.js";
export { peakOverlap } from "./peak-overlap.js";
export { pollHealth, type HealthPoll } from "./health-poll.js";
