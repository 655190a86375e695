/**
 * A Tessera worker process whose handler reads its input (so by-reference payloads are fetched) and
 * returns a small output: the benchmarks measure the platform, not the work.
 * Env: NATS_URL, COMPONENT, CONCURRENCY, ISOLATION ("none", the default here: the platform's own cost with the
 * handler in the worker's thread; or "thread").
 */
import { defineComponent, runWorkerProcess, type Isolation } from "@tessera/worker";

const component = process.env["COMPONENT"] ?? "";
const concurrency = Number(process.env["CONCURRENCY"] ?? "64");
await runWorkerProcess(
  defineComponent({
    name: component,
    concurrency,
    isolation: (process.env["ISOLATION"] ?? "none") as Isolation,
    handle: async (ctx) => ({ bytes: (await ctx.input.bytes()).byteLength }),
  }),
);
process.stdout.write(`${JSON.stringify({ event: "ready" })}\n`);
