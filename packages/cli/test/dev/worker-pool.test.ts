import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "@tessera/testkit";
import { describe, expect, it } from "vitest";
import { createWorkerProcessPool, type WorkerExit } from "../../src/dev/worker-pool.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

function poolOf(components: Array<{ name: string; fixture: string }>, opts: { stopGraceMs?: number } = {}) {
  const lines: string[] = [];
  const exits: WorkerExit[] = [];
  const pool = createWorkerProcessPool({
    // Nothing listens here: these workers never get as far as connecting.
    natsUrl: "nats://127.0.0.1:1",
    components: components.map((c) => ({ name: c.name, modulePath: join(fixtures, c.fixture) })),
    onOutput: (component, instanceId, line) => lines.push(`${component}/${instanceId} ${line}`),
    onExit: (exit) => exits.push(exit),
    ...opts,
  });
  return { pool, lines, exits };
}

describe("createWorkerProcessPool", () => {
  it("reports a worker that exits on its own, with its output prefixed, and stops counting it", async () => {
    const { pool, lines, exits } = poolOf([{ name: "broken", fixture: "not-a-component.ts" }]);
    pool.scale("broken", 1);
    expect(pool.replicas("broken")).toBe(1);
    await waitFor("the worker to exit", () => exits.length === 1, 15_000);
    expect(exits[0]).toMatchObject({ component: "broken", code: 1, requested: false });
    expect(exits[0]?.instanceId).toMatch(/^broken-1-[0-9a-f]{4}$/);
    expect(lines).toContain(
      `broken/${exits[0]?.instanceId} tessera worker: module ${join(fixtures, "not-a-component.ts")} does not export a component (defineComponent(...) as the default export)`,
    );
    expect(pool.replicas("broken")).toBe(0);
    await pool.stopAll();
  });

  it("scales down with SIGTERM to the newest worker and SIGKILLs one that outlives the grace period", async () => {
    const { pool, lines, exits } = poolOf([{ name: "stubborn", fixture: "stubborn.ts" }], { stopGraceMs: 300 });
    pool.scale("stubborn", 2);
    await waitFor(
      "both workers to load",
      () => lines.filter((l) => l.endsWith("stubborn: loaded")).length === 2,
      15_000,
    );
    pool.scale("stubborn", 1);
    expect(pool.replicas("stubborn")).toBe(1);
    await waitFor("the newest worker to be killed", () => exits.length === 1, 5_000);
    expect(exits[0]).toMatchObject({
      instanceId: expect.stringMatching(/^stubborn-2-/) as unknown,
      signal: "SIGKILL",
      requested: true,
    });
    expect(lines).toContain(`stubborn/${exits[0]?.instanceId} ignoring SIGTERM`);
    expect(lines).toContain(`stubborn/${exits[0]?.instanceId} did not exit within 300 ms of SIGTERM; killing it`);
    await pool.stopAll();
    expect(exits.map((e) => e.instanceId.split("-")[1])).toEqual(["2", "1"]);
    expect(() => pool.scale("stubborn", 1)).toThrow("the worker pool is stopped");
  });

  it("refuses an unknown component and a bad count with a message naming what it runs", async () => {
    const { pool } = poolOf([{ name: "a", fixture: "napper.ts" }]);
    expect(() => pool.scale("b", 1)).toThrow('unknown component "b": this pool runs "a"');
    expect(() => pool.scale("a", -1)).toThrow('scale("a"): expected a replica count >= 0, got -1');
    await pool.stopAll();
  });
});
