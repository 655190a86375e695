import { readFileSync } from "node:fs";
import { join } from "node:path";
import { defineConfig } from "vitest/config";
import { clusterBinDir } from "./packages/testkit/src/control-plane/binaries.js";
import { longestFirst } from "./packages/testkit/src/longest-first.js";

/**
 * The cluster tier (`npm run test:cluster`): real etcd, kube-apiserver, kube-controller-manager, KEDA and
 * nats-server, built by scripts/cluster-binaries.sh. Not part of `npm test`: each file starts its own control
 * plane, with generous timeouts.
 */
function builtNatsServer(): string | undefined {
  try {
    const manifest = JSON.parse(readFileSync(join(clusterBinDir(), "manifest.json"), "utf8")) as {
      binaries: Record<string, { path: string } | undefined>;
    };
    return manifest.binaries["nats-server"]?.path;
  } catch {
    return undefined;
  }
}

const natsServer = builtNatsServer();

/**
 * The tier's longest files, longest first (two run at a time, so the two longest overlap instead of one of them
 * running alone at the end).
 */
const LONGEST_FIRST = longestFirst([
  "packages/cli/test-cluster/deploy-group.test.ts",
  "packages/controller/test-cluster/steady-state.test.ts",
  "packages/controller/test-cluster/canary.test.ts",
  "packages/controller/test-cluster/reconcile.test.ts",
  "packages/controller/test-cluster/keda.test.ts",
]);

export default defineConfig({
  resolve: { conditions: ["@tessera/source"] },
  ssr: { resolve: { conditions: ["@tessera/source"], externalConditions: ["@tessera/source"] } },
  test: {
    include: [
      "packages/*/test-cluster/**/*.test.ts",
      // Both NATS generations: `npm test` runs these on Debian's nats-server (2.9.10); here they run again,
      // unchanged, on the latest 2.x built above (packages/bus/test-cluster/nats-generations.test.ts checks which).
      "packages/bus/test/conformance/**/*.test.ts",
      "packages/bus/test/cluster-failover.test.ts",
      "packages/bus/test/topology.test.ts",
    ],
    // Two files at a time: each starts its own control plane (ports and directories of its own), and most of
    // a file's time is spent waiting on the API server, KEDA's polls and the controllers. Three were slower in
    // a clean-clone .ci/run (the control planes' own CPU then competes) and closer to the leader test's bound.
    maxWorkers: 2,
    sequence: { sequencer: LONGEST_FIRST },
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // The nats-server the tier built (the latest 2.x) rather than Debian's on the PATH; the conformance suite
    // on JetStream only (its in-process backend does not depend on the server).
    env: {
      ...(natsServer !== undefined ? { NATS_SERVER_BIN: natsServer } : {}),
      TESSERA_CONFORMANCE_BACKENDS: "jetstream",
    },
    reporters: ["default", "./packages/testkit/src/summary-reporter.ts"],
  },
});
