import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";
import { longestFirst } from "./packages/testkit/src/longest-first.js";

/** The longest files, longest first, so that the run does not end on one of them alone. */
const LONGEST_FIRST = longestFirst([
  "bench/src/bench-smoke.test.ts",
  "packages/coordinator/test/fuzz/schemathesis.test.ts",
  "packages/coordinator/test/coordinator.test.ts",
  "faults/test/replicas.test.ts",
  "packages/coordinator/test/store/job-storage.test.ts",
  "faults/test/chaos.test.ts",
  "faults/test/nats-restart-redelivery.test.ts",
  "packages/bus/test/conformance/delivery.test.ts",
  "packages/coordinator/test/process/outbox-crash.test.ts",
]);

export default defineConfig({
  resolve: { conditions: ["@tessera/source"] },
  ssr: { resolve: { conditions: ["@tessera/source"], externalConditions: ["@tessera/source"] } },
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "examples/*/test/**/*.test.ts",
      "faults/test/**/*.test.ts",
      "bench/src/**/*.test.ts",
      "test/**/*.test.ts",
    ],
    // Vitest's default is one file per core but one; most files here spend their time waiting on child
    // processes (nats-server, Postgres, coordinators, workers), so even a 2-core machine runs two at once.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    sequence: { sequencer: LONGEST_FIRST },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ["default", "./packages/testkit/src/summary-reporter.ts"],
  },
});
