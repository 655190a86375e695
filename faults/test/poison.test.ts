/**
 * Poison jobs in process mode: a handler that throws on some inputs exhausts their deliveries; the
 * coordinator dead-letters them (the bus's DLQ stream, the store's dead letters, the job failed with
 * reason dead_lettered) while the healthy jobs around them complete; once the fix is deployed (the flag
 * file), a redrive of the component's dead letters runs each of them again, under the same job id, to
 * completed. A coordinator SIGKILLed while the poison jobs are being dead-lettered changes none of that.
 */
import { waitFor } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPONENT, faultSpec, startStack, type Stack } from "../src/stack.js";

let stack: Stack;
const MAX_DELIVER = 3;

beforeAll(async () => {
  stack = await startStack({ spec: faultSpec({ maxDeliver: MAX_DELIVER }), workers: 2, coordinatorAckWaitMs: 3_000 });
}, 90_000);
afterAll(() => stack?.close());

async function job(jobId: string): Promise<Record<string, unknown>> {
  return (await stack.api("GET", `/api/v1/jobs/${jobId}`)).body;
}

async function states(ids: readonly string[]): Promise<string[]> {
  return Promise.all(ids.map(async (id) => (await job(id))["state"] as string));
}

describe("poison jobs", () => {
  it("are dead-lettered after maxDeliver, and redriven to completed once fixed", { timeout: 90_000 }, async () => {
    const healthy: string[] = [];
    const poison: string[] = [];
    for (let i = 0; i < 30; i++) {
      const isPoison = i % 10 === 3;
      const reply = await stack.submit(`poison-test-${i}`, isPoison ? { poison: true } : { n: i });
      expect(reply.status).toBe(201);
      (isPoison ? poison : healthy).push(reply.body["jobId"] as string);
    }
    // Kill the coordinator while the poison jobs are failing: dead-lettering resumes from the durable advisories.
    await waitFor(
      "a poison job to have run once",
      () => stack.effects.jobIds("executions").some((id) => poison.includes(id)),
      20_000,
    );
    await stack.coordinator.kill(100);
    await stack.coordinator.whenReady();

    await waitFor(
      "the healthy jobs to complete and the poison jobs to be dead-lettered",
      async () => {
        const [h, p] = await Promise.all([states(healthy), states(poison)]);
        return h.every((s) => s === "completed") && p.every((s) => s === "failed");
      },
      60_000,
      250,
    );
    for (const id of poison) {
      expect(await job(id)).toMatchObject({ state: "failed", reasonCode: "dead_lettered", attempts: MAX_DELIVER });
    }
    const dlq = await stack.api("GET", `/api/v1/dlq?component=${COMPONENT}`);
    expect(dlq.status).toBe(200);
    const letters = dlq.body["items"] as Array<Record<string, unknown>>;
    expect(letters.map((l) => l["jobId"]).sort()).toEqual([...poison].sort());
    expect(letters.every((l) => l["deliveries"] === MAX_DELIVER && l["redrivenAt"] === null)).toBe(true);
    const ranBefore = stack.effects.jobIds("executions").filter((id) => poison.includes(id)).length;
    expect(ranBefore).toBeGreaterThanOrEqual(poison.length * MAX_DELIVER);

    // A redrive before the fix would only dead-letter them again: deploy the fix, then redrive.
    stack.effects.fixPoison();
    const redrive = await stack.api("POST", "/api/v1/dlq/redrive", { component: COMPONENT });
    expect(redrive.status).toBe(200);
    expect((redrive.body["jobIds"] as string[]).sort()).toEqual([...poison].sort());

    await waitFor(
      "the redriven jobs to complete",
      async () => (await states(poison)).every((s) => s === "completed"),
      30_000,
      250,
    );
    for (const id of poison)
      expect(await job(id)).toMatchObject({ jobId: id, state: "completed", redrives: 1, reasonCode: null });
    // Each redriven job ran once more and applied its side effect then (it never got that far before).
    const effects = new Set(stack.effects.effects());
    expect(poison.every((id) => effects.has(id))).toBe(true);
    expect(healthy.every((id) => effects.has(id))).toBe(true);
    await stack.drained(10_000);
    const ranAfter = stack.effects.jobIds("executions").filter((id) => poison.includes(id)).length;
    expect(ranAfter - ranBefore).toBe(poison.length);
    const after = (await stack.api("GET", `/api/v1/dlq?component=${COMPONENT}`)).body["items"] as Array<
      Record<string, unknown>
    >;
    expect(after.every((l) => typeof l["redrivenAt"] === "string")).toBe(true);
  });
});
