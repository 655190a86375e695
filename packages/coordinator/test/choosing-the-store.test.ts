import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInProcessBus } from "@tessera/bus";
import { afterEach, describe, expect, it } from "vitest";
import { createCoordinator, type CoordinatorOptions } from "../src/create-coordinator.js";
import { createMemoryDatabase } from "../src/store/memory-database.js";
import type { Coordinator } from "../src/types.js";
import { silent, spec } from "./harness.js";

/** Which store a coordinator opens, told by what a restarted one still finds. */
describe("choosing the store", () => {
  const open: Coordinator[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });

  async function start(extra: Partial<CoordinatorOptions> = {}): Promise<Coordinator> {
    const coordinator = await createCoordinator({
      bus: createInProcessBus(),
      components: [{ name: "idle", spec: spec() }],
      env: {},
      logger: silent,
      ...extra,
    });
    open.push(coordinator);
    return coordinator;
  }

  /** Submits a job to one coordinator, closes it, and asks a second one opened the same way for it. */
  async function keptAcrossRestart(extra: Partial<CoordinatorOptions>): Promise<boolean> {
    const first = await start(extra);
    const { jobId } = await first.submit("idle", { json: 1 });
    await first.close();
    const second = await start(extra);
    return (await second.getJob(jobId)) !== undefined;
  }

  it("keeps jobs in memory when no database is configured, so a restart starts empty", async () => {
    expect(await keptAcrossRestart({})).toBe(false);
    expect(await keptAcrossRestart({ env: { DATABASE_URL: "", TESSERA_DATA_DIR: "" } })).toBe(false);
    expect(await keptAcrossRestart({ database: { memory: true } })).toBe(false);
    await expect((await start()).health()).resolves.toMatchObject({ ready: true, checks: { store: true } });
  });

  it("shares one memory database between coordinators of a process when given it", async () => {
    expect(await keptAcrossRestart({ database: { memory: createMemoryDatabase() } })).toBe(true);
  });

  it("keeps jobs in PGlite in TESSERA_DATA_DIR, and memory: true overrides it", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "tessera-store-"));
    try {
      expect(await keptAcrossRestart({ env: { TESSERA_DATA_DIR: dataDir } })).toBe(true);
      expect((await readdir(dataDir)).length).toBeGreaterThan(0);
      const other = await mkdtemp(join(tmpdir(), "tessera-store-"));
      expect(await keptAcrossRestart({ env: { TESSERA_DATA_DIR: other }, database: { memory: true } })).toBe(false);
      expect(await readdir(other)).toEqual([]);
      await rm(other, { recursive: true, force: true });
    } finally {
      await Promise.all(open.splice(0).map((c) => c.close()));
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("refuses a database option that names two stores, or memory that is not one", async () => {
    await expect(start({ database: { memory: true, url: "postgres://x" } as never })).rejects.toMatchObject({
      code: "invalid_request",
      message: expect.stringContaining("url and memory cannot be combined"),
    });
    await expect(start({ database: { memory: false } as never })).rejects.toMatchObject({
      code: "invalid_request",
      message: expect.stringContaining("database.memory: expected true"),
    });
    await expect(start({ database: { memory: {} } as never })).rejects.toMatchObject({ code: "invalid_request" });
  });

  it("takes a store key given as undefined as not given", async () => {
    expect(
      await keptAcrossRestart({ database: { memory: undefined, client: undefined, dataDir: "memory://" } as never }),
    ).toBe(false);
    expect(await keptAcrossRestart({ database: { client: undefined, memory: createMemoryDatabase() } as never })).toBe(
      true,
    );
  });
});
