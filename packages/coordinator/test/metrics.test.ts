import { waitFor } from "@tessera/testkit";
import { afterEach, describe, expect, it } from "vitest";
import type { Coordinator } from "../src/types.js";
import { embedded, spec, type Embedded } from "./harness.js";

/** One sample of the coordinator's metrics, from its /metrics text (undefined: no such series). */
async function sample(coordinator: Coordinator, series: string): Promise<number | undefined> {
  const text = await coordinator.metrics.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Waits until a series has a value `check` accepts (gauges are read when scraped, so each read is fresh). */
const eventually = (coordinator: Coordinator, series: string, check: (v: number | undefined) => boolean) =>
  waitFor(`${series} as expected`, async () => check(await sample(coordinator, series)), 5_000);

describe("the coordinator's metrics", () => {
  let env: Embedded | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  it("counts a dead letter as a decision with its reason and as a dead letter of its component", async () => {
    env = await embedded({ memory: true }, [{ name: "poison", spec: spec({ maxDeliver: 2 }) }]);
    const { coordinator } = env;
    await env.run({
      name: "poison",
      retry: { baseDelayMs: 10, maxDelayMs: 20 },
      handle() {
        throw new Error("boom");
      },
    });
    expect(await sample(coordinator, 'tessera_coordinator_dead_letters_total{component="poison"}')).toBe(0);
    const { jobId } = await coordinator.submit("poison", { json: 1 });
    expect(await coordinator.waitForJob(jobId, { timeoutMs: 5_000 })).toMatchObject({ reasonCode: "dead_lettered" });
    expect(await sample(coordinator, 'tessera_coordinator_jobs_submitted_total{component="poison"}')).toBe(1);
    expect(await sample(coordinator, 'tessera_coordinator_dead_letters_total{component="poison"}')).toBe(1);
    expect(
      await sample(
        coordinator,
        'tessera_coordinator_jobs_decided_total{component="poison",state="failed",reason="dead_lettered"}',
      ),
    ).toBe(1);
  });

  it("shows a job held back by a limit as outbox backlog, relay lag and a blocked key, until it goes", async () => {
    env = await embedded({ memory: true }, [{ name: "held", spec: spec(), limits: { key: "tenant", concurrency: 1 } }]);
    const { coordinator } = env;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await env.run({ name: "held", handle: () => released.then(() => ({ ok: true })) });
    const a = await coordinator.submit("held", { json: 1 }, { metadata: { tenant: "a" } });
    await waitFor("the first job to be queued", async () => (await coordinator.getJob(a.jobId))?.state === "queued");
    const b = await coordinator.submit("held", { json: 2 }, { metadata: { tenant: "a" } });

    await eventually(coordinator, 'tessera_coordinator_limiter_blocked_keys{component="held"}', (v) => v === 1);
    expect(await sample(coordinator, 'tessera_coordinator_outbox_backlog{component="held"}')).toBe(1);
    expect(await sample(coordinator, 'tessera_coordinator_jobs{component="held",state="pending"}')).toBe(1);
    await eventually(coordinator, 'tessera_coordinator_relay_lag_seconds{component="held"}', (v) => (v ?? 0) > 0.05);

    release();
    await coordinator.waitForJob(b.jobId, { timeoutMs: 5_000 });
    await eventually(coordinator, 'tessera_coordinator_limiter_blocked_keys{component="held"}', (v) => v === 0);
    await eventually(coordinator, 'tessera_coordinator_outbox_backlog{component="held"}', (v) => v === 0);
    expect(await sample(coordinator, 'tessera_coordinator_relay_lag_seconds{component="held"}')).toBe(0);
    expect(await sample(coordinator, 'tessera_coordinator_jobs{component="held",state="completed"}')).toBe(2);
    expect(await sample(coordinator, 'tessera_coordinator_healthy_instances{component="held"}')).toBe(1);
  });

  it("exports numeric settings and the build, and never a secret", async () => {
    env = await embedded({ memory: true }, [{ name: "echo", spec: spec() }], {
      env: { TESSERA_ADMIN_TOKEN: "12345678901234567890123456789012" },
    });
    const text = await env.coordinator.metrics.metrics();
    expect(text).toMatch(/^tessera_coordinator_setting\{name="[^"]+"\} \d/m);
    expect(text).toMatch(/^tessera_build_info\{version="[^"]+",commit="[^"]+"\} 1$/m);
    expect(text).not.toContain("admin.token");
    expect(text).not.toContain("12345678901234567890123456789012");
  });
});
