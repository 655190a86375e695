import { defineConfig } from "vitest/config";

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
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ["default", "./packages/testkit/src/summary-reporter.ts"],
  },
});
