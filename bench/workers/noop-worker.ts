/**
 * A Tessera worker process whose handler reads its input (so by-reference payloads are fetched) and
 * returns a small output: the benchmarks measure the platform, not the work.
 * The handler runs in the worker's own thread: these rows measure the platform; the isolation rows measure
 * what handler threads add. Env: NATS_URL, COMPONENT, CONCURRENCY.
 */
import { defineComponent, runWorkerProcess } from "@tessera/worker";
import { noopHandler } from "../src/isolation-components.js";

const component = process.env["COMPONENT"] ?? "";
const concurrency = Number(process.env["CONCURRENCY"] ?? "64");
await runWorkerProcess(
  defineComponent({
    name: component,
    concurrency,
    isolation: "none",
    handle: noopHandler,
  }),
);
process.stdout.write(`${JSON.stringify({ event: "ready" })}\n`);
