import * as k8s from "@kubernetes/client-node";
import { startFakeKubeApi, type FakeKubeApi } from "@tessera/kube-fake";
import { FaultProxy, waitFor } from "@tessera/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  controllerLeaseName,
  leaseVerdict,
  microTime,
  startLeaderElection,
  type LeaderElector,
  type LeaseObject,
} from "../../src/reconcile/leader-election.js";

const NS = "tessera-system";
const TIMING = { leaseDurationMs: 1_000, renewDeadlineMs: 600, retryPeriodMs: 100 };

describe("leaseVerdict (client-go's rule, on our own clock)", () => {
  it.each([
    ["no lease spec at all", undefined, 0, 0, "free"],
    ["held by us", { holderIdentity: "a", leaseDurationSeconds: 15 }, 0, 0, "mine"],
    ["released (empty holder)", { holderIdentity: "", leaseDurationSeconds: 1 }, 1_000, 1_000, "free"],
    ["held, seen change 14.9 s ago", { holderIdentity: "b", leaseDurationSeconds: 15 }, 100, 15_000, "held"],
    ["held, unchanged for 15 s", { holderIdentity: "b", leaseDurationSeconds: 15 }, 0, 15_000, "free"],
  ] as const)("%s → %s", (_what, spec, observedAt, now, verdict) => {
    expect(leaseVerdict(spec, "a", observedAt, now)).toBe(verdict);
  });

  it("writes MicroTime with six fractional digits", () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe("2026-01-02T03:04:05.678000Z");
  });
});

describe("startLeaderElection on kube-fake", () => {
  let fake: FakeKubeApi;
  let kubeConfig: k8s.KubeConfig;
  const electors: LeaderElector[] = [];
  beforeEach(async () => {
    fake = await startFakeKubeApi({ namespaces: "auto" });
    kubeConfig = await fake.kubeConfig();
  });
  afterEach(async () => {
    await Promise.all(electors.splice(0).map((e) => e.stop()));
    await fake.close();
  });

  /** An elector plus the times its callbacks fired. */
  function candidate(identity: string, kc = kubeConfig) {
    const events: { what: "started" | "stopped"; at: number }[] = [];
    const elector = startLeaderElection(
      kc,
      { namespace: NS, identity, ...TIMING },
      {
        onStartedLeading: () => events.push({ what: "started", at: Date.now() }),
        onStoppedLeading: () => events.push({ what: "stopped", at: Date.now() }),
      },
    );
    electors.push(elector);
    return { elector, events };
  }

  const lease = async (): Promise<LeaseObject> =>
    (await (
      await fetch(new URL(`/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${controllerLeaseName()}`, fake.url))
    ).json()) as LeaseObject;

  it("refuses timings where the deadline is not shorter than the lease", () => {
    expect(() =>
      startLeaderElection(
        kubeConfig,
        { namespace: NS, identity: "x", leaseDurationMs: 1000, renewDeadlineMs: 1000, retryPeriodMs: 100 },
        { onStartedLeading: () => undefined, onStoppedLeading: () => undefined },
      ),
    ).toThrow(/retryPeriod < renewDeadline < leaseDuration/);
  });

  it("exactly one of two candidates leads, the Lease names it, and it keeps renewing", async () => {
    const a = candidate("a");
    const b = candidate("b");
    await waitFor("a leader", () => a.elector.isLeader() || b.elector.isLeader(), 5_000, 10);
    const [leader, other] = a.elector.isLeader() ? [a, b] : [b, a];
    const first = await lease();
    expect(first.spec?.holderIdentity).toBe(leader === a ? "a" : "b");
    expect(first.spec?.leaseDurationSeconds).toBe(1);
    // Several lease durations later: still the same single leader, the lease renewed, never two at once.
    const until = Date.now() + 2_500;
    while (Date.now() < until) {
      expect(a.elector.isLeader() && b.elector.isLeader()).toBe(false);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(leader.elector.isLeader()).toBe(true);
    expect(other.events).toEqual([]);
    const later = await lease();
    expect(later.spec?.holderIdentity).toBe(first.spec?.holderIdentity);
    expect(later.spec?.renewTime).not.toBe(first.spec?.renewTime);
    expect(later.spec?.leaseTransitions).toBe(0);
  });

  it("a leader cut off from the API server stops at its renew deadline, before the other takes over", async () => {
    const proxy = await FaultProxy.start(fake.url);
    try {
      const viaProxy = new k8s.KubeConfig();
      viaProxy.loadFromOptions({
        clusters: [{ name: "fake", server: proxy.origin, skipTLSVerify: true }],
        users: [{ name: "test" }],
        contexts: [{ name: "fake", cluster: "fake", user: "test" }],
        currentContext: "fake",
      });
      const a = candidate("a", viaProxy);
      await waitFor("a to lead", () => a.elector.isLeader(), 5_000, 10);
      const b = candidate("b");
      await new Promise((r) => setTimeout(r, 300));
      expect(b.elector.isLeader()).toBe(false);
      const cut = Date.now();
      proxy.always({ kind: "reset" });
      await waitFor("b to take over", () => b.elector.isLeader(), 5_000, 10);
      const stopped = a.events.find((e) => e.what === "stopped");
      const started = b.events.find((e) => e.what === "started");
      expect(stopped, "a stepped down").toBeDefined();
      // a stopped within its renew deadline (plus a watchdog tick) of the last renewal before the cut...
      expect(stopped!.at - cut).toBeLessThanOrEqual(TIMING.renewDeadlineMs + 100);
      // ...and b started only after that, within a lease duration and a retry of the cut.
      expect(started!.at).toBeGreaterThan(stopped!.at);
      expect(started!.at - cut).toBeLessThanOrEqual(TIMING.leaseDurationMs + 2 * TIMING.retryPeriodMs + 200);
      expect(a.elector.isLeader()).toBe(false);
      const taken = await lease();
      expect(taken.spec?.holderIdentity).toBe("b");
      expect(taken.spec?.leaseTransitions).toBe(1);
    } finally {
      proxy.clear();
      await proxy.stop();
    }
  });

  it("stop() gives the lease up, so the standby takes it within a retry period, not a lease duration", async () => {
    const a = candidate("a");
    await waitFor("a to lead", () => a.elector.isLeader(), 5_000, 10);
    const b = candidate("b");
    await new Promise((r) => setTimeout(r, 200));
    const stopping = Date.now();
    await a.elector.stop();
    expect(a.events.map((e) => e.what)).toEqual(["started", "stopped"]);
    expect((await lease()).spec?.holderIdentity).not.toBe("a");
    await waitFor("b to take over", () => b.elector.isLeader(), 5_000, 10);
    const started = b.events.find((e) => e.what === "started")!;
    expect(started.at).toBeGreaterThanOrEqual(a.events[1]!.at);
    expect(started.at - stopping).toBeLessThan(TIMING.leaseDurationMs);
  });
});
