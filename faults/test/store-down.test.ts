/**
 * The store failing under the coordinator: Postgres stopped, and the disk under the job tables full. In
 * both cases a submit gets a clear error (503, naming the cause), nothing it was told was accepted is lost,
 * and once the store is back the refused submit, retried with its idempotency key, goes through and every
 * job completes.
 *
 * The full disk is real: the coordinator's database lives in a tablespace on a small tmpfs mounted for
 * the test (this needs root, or CAP_SYS_ADMIN; without it that test is skipped, saying why), which a
 * filler file then fills. WAL stays on the main disk, so Postgres itself keeps running; only the
 * writes into the job tables fail, with ENOSPC.
 */
import { execFileSync } from "node:child_process";
import { chownSync, mkdirSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "@tessera/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeJobs } from "../src/evidence.js";
import { startStack, type Stack } from "../src/stack.js";

let stack: Stack;
/** The tmpfs under the database, when it could be mounted. */
let tight: { mount: string; why?: undefined } | { mount?: undefined; why: string };

function mountTmpfs(dir: string, size: string): string | undefined {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0755`, "tmpfs", dir], { stdio: "pipe" });
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs (${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message})`;
  }
}

beforeAll(async () => {
  const mount = await mkdtemp(join(tmpdir(), "tessera-tight-"));
  const why =
    process.getuid?.() === 0 ? mountTmpfs(mount, "24m") : "not running as root: mounting a tmpfs needs CAP_SYS_ADMIN";
  tight = why === undefined ? { mount } : { why };
  stack = await startStack({
    workers: 1,
    coordinatorAckWaitMs: 3_000,
    database: async (postgres) => {
      if (tight.mount === undefined) return postgres.createDatabase("faults");
      // The tablespace's directory must be empty and belong to the server's OS user.
      const location = join(tight.mount, "ts");
      mkdirSync(location);
      const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
      const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
      chownSync(location, uid, gid);
      const admin = new pg.Client({ connectionString: postgres.url });
      await admin.connect();
      try {
        await admin.query(`CREATE TABLESPACE faults_tight LOCATION '${location}'`);
        await admin.query("CREATE DATABASE faults TABLESPACE faults_tight");
      } finally {
        await admin.end();
      }
      return postgres.url.replace(/\/postgres$/, "/faults");
    },
  });
}, 90_000);

afterAll(async () => {
  await stack?.close();
  if (tight?.mount !== undefined) {
    try {
      execFileSync("umount", [tight.mount]);
    } catch {
      // best effort: a leftover tmpfs in /tmp is freed at reboot
    }
    rmSync(tight.mount, { recursive: true, force: true });
  }
});

async function allCompleted(n: number, timeoutMs: number): Promise<void> {
  await waitFor(
    `${n} jobs completed`,
    async () => {
      const jobs = await storeJobs(stack.databaseUrl).catch(() => []);
      return jobs.length === n && jobs.every((j) => j.state === "completed");
    },
    timeoutMs,
    250,
  );
}

describe("the store down", () => {
  it(
    "Postgres stopped: submit answers 503 naming the store, loses nothing, and works again when it returns",
    { timeout: 90_000 },
    async () => {
      const accepted: string[] = [];
      for (let i = 0; i < 20; i++) {
        const reply = await stack.submit(`db-${i}`, { n: i });
        expect(reply.status).toBe(201);
        accepted.push(reply.body["jobId"] as string);
      }
      // Down while those jobs are still being published and run: their Results wait on the bus.
      await stack.postgres.halt();
      let refused;
      try {
        refused = await stack.submit("db-refused", { n: -1 });
      } finally {
        await stack.postgres.start();
      }
      expect(refused.status, JSON.stringify(refused.body)).toBe(503);
      expect(refused.body).toMatchObject({ error: { code: "unavailable" } });
      const message = (refused.body["error"] as { message: string }).message;
      expect(message).toMatch(/^the job store is unavailable: /);
      expect(message).toMatch(/ECONNREFUSED|terminating connection|shutting down|Connection terminated/);
      expect(message).toContain("retry with the same idempotencyKey");

      const again = await stack.submit("db-refused", { n: -1 });
      expect(again.status).toBe(201);
      await allCompleted(21, 45_000);
      const jobs = await storeJobs(stack.databaseUrl);
      expect(jobs.map((j) => j.jobId)).toEqual(expect.arrayContaining(accepted));
      expect(jobs.filter((j) => j.idempotencyKey === "db-refused")).toHaveLength(1);
    },
  );

  it(
    "the disk under the job tables full: submit answers 503 with Postgres's reason, and works again once there is space",
    { timeout: 90_000 },
    async (ctx) => {
      if (tight.mount === undefined) {
        process.stderr.write(`store-down.test.ts: full-disk test skipped: ${tight.why}\n`);
        ctx.skip();
        return;
      }
      const before = (await storeJobs(stack.databaseUrl)).length;
      // Leave a little room, then fill it with submits of a few KiB each until the store refuses one.
      const fs = statfsSync(tight.mount);
      const filler = join(tight.mount, "filler");
      writeFileSync(filler, Buffer.alloc(Math.max(0, fs.bavail * fs.bsize - 384 * 1024)));
      const accepted: string[] = [];
      let refused: { key: string; status: number; body: Record<string, unknown> } | undefined;
      for (let i = 0; i < 1_000 && refused === undefined; i++) {
        const key = `disk-${i}`;
        const reply = await stack.submit(key, { n: i, padding: randomText(6_000) });
        if (reply.status === 201) accepted.push(reply.body["jobId"] as string);
        else refused = { key, ...reply };
      }
      expect(refused, "the store never refused a submit").toBeDefined();
      expect(refused?.status, JSON.stringify(refused?.body)).toBe(503);
      expect(refused?.body).toMatchObject({ error: { code: "unavailable" } });
      expect((refused?.body["error"] as { message: string }).message).toMatch(
        /^the job store is unavailable: .*No space left on device/,
      );

      rmSync(filler);
      const retried = await stack.submit(refused?.key as string, { n: -1 });
      expect(retried.status).toBe(201);
      await allCompleted(before + accepted.length + 1, 60_000);
      const jobs = await storeJobs(stack.databaseUrl);
      expect(jobs.map((j) => j.jobId)).toEqual(expect.arrayContaining(accepted));
    },
  );
});

/** Text that does not compress (so it really takes its size in the table). */
function randomText(bytes: number): string {
  let s = "";
  while (s.length < bytes) s += Math.random().toString(36).slice(2);
  return s.slice(0, bytes);
}
