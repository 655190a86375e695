import { availableParallelism } from "node:os";
import { configDefaults, defineConfig } from "vitest/config";
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

/**
 * Files that register an OpenTelemetry SDK in the test process. They run isolated (modules of their own): the
 * SDK's globals, and the tracers the packages took from them, must not reach the files that share a worker.
 */
const REGISTERS_TRACING = ["packages/coordinator/test/tracing.test.ts", "packages/cli/test/config-classes.test.ts"];

export default defineConfig({
  resolve: { conditions: ["@tessera/source"] },
  ssr: { resolve: { conditions: ["@tessera/source"], externalConditions: ["@tessera/source"] } },
  test: {
    // Vitest's default is one file per core but one; most files here spend their time waiting on child
    // processes (nats-server, Postgres, coordinators, workers), so even a 2-core machine runs two at once.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // Most files share their worker's modules instead of each importing the packages afresh (decision 0044).
    // What a file sets globally is undone after it: fake timers by the setup file (which also fails a file
    // that leaves an OpenTelemetry SDK registered), stubbed variables and globals by vitest.
    setupFiles: ["./packages/testkit/src/reset-globals.ts"],
    unstubEnvs: true,
    unstubGlobals: true,
    projects: [
      {
        extends: true,
        test: {
          name: "shared",
          include: [
            "packages/*/src/**/*.test.ts",
            "packages/*/test/**/*.test.ts",
            "examples/*/test/**/*.test.ts",
            "faults/test/**/*.test.ts",
            "bench/src/**/*.test.ts",
            "test/**/*.test.ts",
          ],
          exclude: [...configDefaults.exclude, ...REGISTERS_TRACING],
          isolate: false,
        },
      },
      {
        extends: true,
        test: { name: "isolated", include: REGISTERS_TRACING, isolate: true, env: { TESSERA_TEST_ISOLATED: "1" } },
      },
    ],
    sequence: { sequencer: LONGEST_FIRST },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ["default", "./packages/testkit/src/summary-reporter.ts"],
  },
});
