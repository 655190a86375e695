/**
 * source_locator jobs with several coordinators on one Postgres and one nats-server: a fetch runs on one replica
 * only (the job's outbox row stays claimed by the replica fetching it), and a coordinator SIGKILLed in the middle
 * of a fetch leaves the job to the next one, which fetches it again and dispatches it once.
 */
import type { JobRecord } from "@tessera/client";
import { waitFor } from "@tessera/testkit";
import { defineComponent } from "@tessera/worker";
import { describe, expect, it } from "vitest";
import { startSourceServer, type SourceServer } from "../sources/source-server.js";
import type { Coordinator } from "../../src/types.js";
import { processSpec, processSuite } from "./support.js";

const suite = processSuite();
const spec = processSpec({ inputMode: "source-locator", egress: "fetch-controlled" });

/** The job once its dispatch is recorded: the record follows the publish by a moment, and may follow the Result. */
async function dispatchRecorded(coordinator: Coordinator, jobId: string): Promise<JobRecord> {
  return waitFor(
    "the dispatch to be recorded",
    async () => {
      const job = await coordinator.getJob(jobId);
      return job !== undefined && job.dispatches > 0 ? job : undefined;
    },
    5_000,
  );
}

async function sourceServer(): Promise<{ server: SourceServer; allow: string }> {
  const server = await startSourceServer();
  suite.defer(() => server.close());
  return { server, allow: JSON.stringify({ cidrs: ["127.0.0.1/32"], ports: [{ port: server.port }] }) };
}

/** A worker on its own connection that records the jobs it runs and returns their text. */
async function textWorker(component: string): Promise<string[]> {
  const ran: string[] = [];
  const handle = async (ctx: { jobId: string; input: { text(): Promise<string> } }) => {
    ran.push(ctx.jobId);
    return { text: await ctx.input.text() };
  };
  await suite.worker(defineComponent({ isolation: "none", name: component, handle }), await suite.bus("worker"));
  return ran;
}

describe("source fetches across coordinators", () => {
  // A child process to start on a loaded machine, and a presence to lapse.
  it(
    "a coordinator killed while it fetches: the next one fetches again, and the job runs once",
    { timeout: 60_000 },
    async () => {
      const url = await suite.database();
      const component = suite.componentName("fetched");
      const { server, allow } = await sourceServer();
      let calls = 0;
      server.route("/doc", (_req, res) => {
        calls += 1;
        // The first fetch never gets an answer: its coordinator dies waiting for it.
        if (calls > 1) res.writeHead(200, { "content-type": "text/plain" }).end("fetched after the crash");
      });
      const child = suite.spawn("source-fetch-child.ts", {
        DATABASE_URL: url,
        TEST_COMPONENT: component,
        TEST_SPEC: JSON.stringify(spec),
        TEST_SOURCE_URL: `${server.origin}/doc`,
        TESSERA_FETCH_ALLOW: allow,
      });
      const submitted = await child.line("the child to submit", (l) => l["event"] === "submitted", 20_000);
      const jobId = submitted["jobId"] as string;
      await waitFor("the child to start fetching", () => calls === 1 || undefined, 10_000);
      expect((await child.kill()).signal).toBe("SIGKILL");

      const ran = await textWorker(component);
      const coordinator = await suite.coordinator({
        bus: await suite.bus("coordinator"),
        url,
        components: [{ name: component, spec }],
        env: { TESSERA_FETCH_ALLOW: allow },
      });
      // The dead coordinator's claim lapses with its presence (5 s); then this one takes the row.
      await coordinator.waitForJob(jobId, { timeoutMs: 20_000 });
      const job = await dispatchRecorded(coordinator, jobId);
      expect(job).toMatchObject({
        state: "completed",
        dispatches: 1,
        output: { data: { text: "fetched after the crash" } },
      });
      expect(calls).toBe(2);
      expect(ran).toEqual([jobId]);
    },
  );

  it("two live replicas: only the one that claimed the job fetches it, however long the fetch takes", async () => {
    const url = await suite.database();
    const component = suite.componentName("shared");
    const { server, allow } = await sourceServer();
    server.route("/slow", (_req, res) => {
      // Longer than several relay poll intervals of the other replica.
      setTimeout(() => res.writeHead(200, { "content-type": "text/plain" }).end("fetched once"), 2_000);
    });
    const ran = await textWorker(component);
    const replica = async (name: string) =>
      suite.coordinator({
        bus: await suite.bus(name),
        url,
        components: [{ name: component, spec }],
        env: { TESSERA_FETCH_ALLOW: allow },
        settingsFile: { "relay.pollIntervalMs": 50 },
      });
    const [a, b] = [await replica("a"), await replica("b")];
    const { jobId } = await a.submit(component, { source_locator: { source_url: `${server.origin}/slow` } });
    await b.waitForJob(jobId, { timeoutMs: 20_000 });
    const job = await dispatchRecorded(a, jobId);
    expect(job).toMatchObject({ state: "completed", dispatches: 1, output: { data: { text: "fetched once" } } });
    expect(server.hits("/slow")).toBe(1);
    expect(ran).toEqual([jobId]);
  });
});
