/**
 * A job's dispatch record and its Result race on the SQL store: the relay records a publish while the Result
 * consumer applies the job's Result, each in its own statement, on Postgres with two writes in flight. Each
 * statement locks the job row first and rechecks it after the other commits; neither may be lost.
 */
import { describe, expect, it } from "vitest";
import { storeBackends } from "../store-backends.js";
import { result, submit } from "./job-fixtures.js";

const sqlStores = storeBackends().filter((backend) => backend.name !== "memory");

describe.each(sqlStores)("a dispatch record racing its Result on $name", (backend) => {
  it("loses neither a record nor a Result when the two race in concurrent statements", async () => {
    const { jobs: store, sql: client } = await backend.open();
    if (client === undefined) throw new Error(`${backend.name} opened without its SQL client`);
    const jobs = await Promise.all(Array.from({ length: 400 }, () => submit(store)));
    // Records of a few jobs at a time, as the relay writes them, and every job's Result, interleaved: with
    // two statements in flight on Postgres, a job's record and its Result often run at the same moment.
    await Promise.all([
      (async () => {
        for (let i = 0; i < jobs.length; i += 4)
          await store.markDispatched(jobs.slice(i, i + 4).map((j, k) => ({ ...j, streamSeq: i + k + 1 })));
      })(),
      ...jobs.map(async (j, i) => {
        if (i % 2 === 0) await new Promise((resolve) => setImmediate(resolve));
        return store.applyResult(result(j.jobId, "echo"));
      }),
    ]);
    const rows = await client.query<{ state: string; dispatches: number; duplicate_results: number; n: number }>(
      `SELECT state, dispatches, duplicate_results, count(*)::int AS n FROM tessera_jobs GROUP BY 1, 2, 3`,
    );
    expect(rows.rows).toEqual([{ state: "completed", dispatches: 1, duplicate_results: 0, n: jobs.length }]);
    expect((await client.query(`SELECT count(*)::int AS n FROM tessera_outbox`)).rows).toEqual([{ n: 0 }]);
  });
});
