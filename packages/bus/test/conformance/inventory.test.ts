import { describe, expect, it } from "vitest";
import { backends } from "./backends.js";
import { busSettings, bytes, makeJob, makeResult, uniqueComponent, uniqueJobId } from "./fixtures.js";
import { useBackend } from "./harness.js";

describe.each(backends)("[$name] inventory (what a restore reconciles against)", (backend) => {
  const h = useBackend(backend);

  it("lists the latest Result per job, the jobs still stored and the dead letters, only of the components asked", async () => {
    const [c, other] = [uniqueComponent(), uniqueComponent("other")];
    await h.bus.ensureComponent(busSettings(c));
    await h.bus.ensureComponent(busSettings(other));
    const jobs = [makeJob(c), makeJob(c), makeJob(c)];
    const acks = [];
    for (const job of jobs) acks.push(await h.bus.publishJob(job));
    await h.bus.publishJob(makeJob(other));
    // One leaves the stream (acked after its Result), one is dead-lettered.
    const [done, stillThere, dead] = jobs.map((j) => j.job_id) as [string, string, string];
    await h.bus.removeJob(c, acks[0]?.seq ?? 0);
    await h.bus.publishResult(makeResult(c, done, { status: "failed", reason_code: "first_try" }));
    await h.bus.publishResult(makeResult(c, done, { attempt: 2 }));
    await h.bus.publishResult(makeResult(other, uniqueJobId()));
    await h.bus.publishDeadLetter({
      component: c,
      jobId: dead,
      streamSeq: acks[2]?.seq,
      deliveries: 5,
      reasonCode: "dead_lettered",
      reasonDetail: "",
      data: bytes("{}"),
      deadLetteredAt: new Date().toISOString(),
    });
    await h.bus.removeJob(c, acks[2]?.seq ?? 0);

    const inventory = await h.bus.inventory([c]);
    expect(inventory.results.map((r) => [r.job_id, r.status, r.attempt])).toEqual([[done, "completed", 2]]);
    expect(inventory.stored).toEqual([{ component: c, jobId: stillThere, streamSeq: acks[1]?.seq }]);
    expect(inventory.deadLetters.map((l) => [l.component, l.jobId])).toEqual([[c, dead]]);
    expect(await h.bus.inventory([uniqueComponent("never")])).toEqual({ results: [], stored: [], deadLetters: [] });
  });
});
