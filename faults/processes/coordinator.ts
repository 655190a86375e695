/**
 * The coordinator of a fault run, in its own process so it can be SIGKILLed and started again on the same
 * Postgres database. Run with `node --conditions=@tessera/source --import tsx coordinator.ts`:
 *
 * - DATABASE_URL, NATS_URL: the store and the real nats-server;
 * - FAULTS_COMPONENT, FAULTS_SPEC (JSON ComponentSpec): the one component it registers;
 * - FAULTS_DIR: the run directory (../src/side-effects.ts);
 * - FAULTS_ADMIN_PORT: the admin API's port, the same across restarts, so submitters find it again;
 * - FAULTS_LIMITS (JSON KeyLimits, optional): the component's per-key limits.
 *
 * Several of these may run at once on one database (the replicas topology): each records only the
 * completions it applied itself, and its ready line names its coordinator id (the maintenance lease's holder).
 *
 * The product's code runs unchanged. The bus it gets is the real JetStream bus seen through a proxy that
 * wraps `publishJob`, the relay's only call to the bus: when the driver has armed `commit-before-publish`
 * the process dies on entry (the job and its outbox row are committed, nothing is published), and when it
 * has armed `publish-before-mark` it dies once the bus has stored the job (before the relay deletes the
 * outbox row).
 *
 * Every completion the coordinator records is appended to the run's completions log (from its job events).
 * Prints `{"event":"ready","url":...}` on stdout once the admin API listens; exits 1 if it cannot start
 * (no NATS, no database), and the driver starts it again.
 */
import { connectJetStreamBus, type PublishAck, type PublishJobOptions } from "@tessera/bus";
import { withOverrides } from "@tessera/testkit";
import type { ComponentSpec, Job } from "@tessera/contract";
import { createCoordinator, startAdminServer, type KeyLimits } from "@tessera/coordinator";
import { pino } from "pino";
import { SideEffects } from "../src/side-effects.js";

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`${name} is not set`);
  return value;
}

const log = pino({ name: "faults-coordinator", level: process.env["LOG_LEVEL"] ?? "warn" }, pino.destination(2));
const fail = (what: string, err: unknown): never => {
  log.error({ err }, what);
  process.exit(1);
};
process.on("unhandledRejection", (err) => fail("unhandled rejection", err));

const effects = new SideEffects(required("FAULTS_DIR"));
const component = required("FAULTS_COMPONENT");
const spec = JSON.parse(required("FAULTS_SPEC")) as ComponentSpec;
const limits = process.env["FAULTS_LIMITS"] ? (JSON.parse(process.env["FAULTS_LIMITS"]) as KeyLimits) : undefined;

const real = await connectJetStreamBus({ servers: required("NATS_URL"), name: "faults-coordinator" }).catch(
  (err: unknown) => fail("cannot connect to NATS", err),
);
const publishJob = async (job: Job, opts?: PublishJobOptions): Promise<PublishAck> => {
  effects.dieIfArmed("commit-before-publish", job.job_id);
  const ack = await real.publishJob(job, opts);
  effects.dieIfArmed("publish-before-mark", job.job_id);
  return ack;
};
// The real bus, but for publishJob.
const bus = withOverrides(real, { publishJob });

const coordinator = await createCoordinator({
  bus,
  components: [{ name: component, spec, ...(limits !== undefined ? { limits } : {}) }],
  database: { url: required("DATABASE_URL") },
  env: {},
  logger: log,
}).catch((err: unknown) => fail("cannot start the coordinator", err));
coordinator.onJobEvent((event, origin) => {
  if (event.state === "completed" && origin === "here") effects.recordedCompletion(event.jobId);
});
const admin = await startAdminServer(coordinator, { port: Number(required("FAULTS_ADMIN_PORT")), logger: log }).catch(
  (err: unknown) => fail("cannot start the admin API", err),
);
process.stdout.write(`${JSON.stringify({ event: "ready", url: admin.url, pid: process.pid, id: coordinator.id })}\n`);

process.once("SIGTERM", () => {
  void admin
    .close()
    .then(() => coordinator.close())
    .then(() => real.close())
    .then(
      () => process.exit(0),
      (err: unknown) => fail("closing failed", err),
    );
});
