/**
 * A worker process of the fault suite: a component file as a user would write one, run with
 * `node --conditions=@tessera/source --import tsx worker.ts`. Configured by the environment:
 *
 * - NATS_URL, FAULTS_COMPONENT, FAULTS_DIR (the run's directory, see ../src/side-effects.ts);
 * - FAULTS_CONCURRENCY (default 4), FAULTS_SLEEP_MS (the handler sleeps 0..N ms twice, default 20).
 *
 * The handler, for each job:
 * 1. appends the job id to the execution log (every run counts, so re-executions are visible);
 * 2. sleeps a few ms, then dies here if told to (`mid-handler` kill point "before-effect");
 * 3. applies its side effect **idempotently by job id** (an exclusive create: the second run of a job finds
 *    it and skips it), then appends to the non-idempotent log (what the effect would do without the key);
 * 4. sleeps a few ms, then dies here if told to ("after-effect": the effect is done, the Result is not);
 * 5. returns.
 *
 * A job whose input is `{ "poison": true }` throws until the file `<FAULTS_DIR>/poison-fixed` exists.
 *
 * "Told to die": the driver creates `<FAULTS_DIR>/arm/mid-handler-<point>`; the first handler of any worker
 * that removes it (an unlink succeeds for one process only) records the kill and SIGKILLs its own process.
 */
import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { defineComponent, runWorkerProcess } from "@tessera/worker";
import { SideEffects } from "../src/side-effects.js";

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`${name} is not set`);
  return value;
}

const effects = new SideEffects(required("FAULTS_DIR"));
const sleepMs = Number(process.env["FAULTS_SLEEP_MS"] ?? "20");
const nap = (signal: AbortSignal): Promise<void> =>
  sleep(Math.floor(Math.random() * (sleepMs + 1)), undefined, { signal });

const component = defineComponent({
  name: required("FAULTS_COMPONENT"),
  // The suite restarts workers all the time; a handler thread per concurrent job, loading the sources through
  // tsx, would add seconds to each restart. Isolation has its own tests (packages/worker).
  isolation: "none",
  concurrency: Number(process.env["FAULTS_CONCURRENCY"] ?? "4"),
  retry: { baseDelayMs: 50, maxDelayMs: 500 },
  async handle(ctx) {
    effects.executed(ctx.jobId, ctx.attempt);
    const input = await ctx.input.json<{ poison?: boolean } | null>();
    if (input?.poison === true && !existsSync(effects.poisonFixedFile))
      throw new Error("poison: this job fails until the fix is deployed");
    await nap(ctx.signal);
    effects.dieIfArmed("mid-handler-before-effect", ctx.jobId);
    const applied = effects.applyOnce(ctx.jobId);
    effects.naive(ctx.jobId);
    await nap(ctx.signal);
    effects.dieIfArmed("mid-handler-after-effect", ctx.jobId);
    return { applied };
  },
});

await runWorkerProcess(component);
