import type { CliStream } from "../cli-io.js";
import { formatDuration } from "../output/format.js";
import type { Cluster } from "./cluster.js";
import { readiness, type Readiness, type ReadinessTarget } from "./readiness.js";

export interface WaitItem {
  namespace: string;
  name: string;
  target: ReadinessTarget;
}

export interface WaitOutcome {
  readiness: Map<string, Readiness>;
  timedOut: boolean;
  ms: number;
}

const key = (i: { namespace: string; name: string }): string => `${i.namespace}/${i.name}`;

/**
 * Polls until every item is ready, one has failed, or `timeoutMs` passed. A line on `progress` (stderr) each
 * time a component's state changes, and a heartbeat line every few seconds while waiting, so a long wait is
 * never silent.
 */
export async function waitReady(
  cluster: Cluster,
  items: readonly WaitItem[],
  timeoutMs: number,
  progress: CliStream,
  label: string,
): Promise<WaitOutcome> {
  const started = Date.now();
  const last = new Map<string, Readiness>();
  let lastHeartbeat = started;
  for (;;) {
    for (const item of items) {
      if (last.get(key(item))?.state === "ready") continue;
      const component = await cluster.readComponent(item.namespace, item.name);
      const deployment = await cluster.readDeployment(item.namespace, item.name);
      let now: Readiness =
        component === undefined
          ? { state: "waiting", detail: "the Component is gone" }
          : readiness(component, deployment, item.target);
      // Workers that never start are often KEDA unable to act (e.g. a Secret its env names is missing): say so.
      if (now.state === "waiting" && (deployment?.spec?.replicas ?? 0) > 0) {
        const keda = await cluster.kedaProblem(item.namespace, item.name);
        if (keda !== undefined) now = { ...now, detail: `${now.detail}; KEDA ScaledObject not ready: ${keda}` };
      }
      const before = last.get(key(item));
      if (before === undefined || before.state !== now.state || before.detail !== now.detail)
        progress.write(
          `${label}${key(item)}: ${now.state === "waiting" ? "waiting: " : `${now.state}: `}${now.detail}\n`,
        );
      last.set(key(item), now);
    }
    const states = [...last.values()];
    const elapsed = Date.now() - started;
    if (states.every((r) => r.state === "ready") || states.some((r) => r.state === "failed"))
      return { readiness: last, timedOut: false, ms: elapsed };
    if (elapsed >= timeoutMs) return { readiness: last, timedOut: true, ms: elapsed };
    if (Date.now() - lastHeartbeat >= 5_000) {
      lastHeartbeat = Date.now();
      const waiting = items.filter((i) => last.get(key(i))?.state !== "ready").map(key);
      progress.write(`${label}still waiting after ${formatDuration(elapsed)} for ${waiting.join(", ")}\n`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
