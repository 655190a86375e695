import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

// The package layering is a lint rule set (eslint.config.js); these cases check that it refuses what it
// is meant to refuse, so a config change that silently disables it fails here and not in review.
const eslint = new ESLint({ cwd: new URL("..", import.meta.url).pathname });

async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? "fatal"}: ${m.message}`);
}

describe("package layering (eslint.config.js)", () => {
  it("contract imports nothing of ours", async () => {
    const found = await problems(
      "packages/contract/src/probe.ts",
      `export { createInProcessBus } from "@tessera/bus";\n`,
    );
    expect(found).toEqual([
      expect.stringMatching(/no-restricted-imports: .*contract may import only none of our packages/),
    ]);
  });

  it("worker never imports the coordinator, and may import the bus", async () => {
    const found = await problems(
      "packages/worker/src/probe.ts",
      `import { createCoordinator } from "@tessera/coordinator";\nimport { createInProcessBus } from "@tessera/bus";\nexport const x = [createCoordinator, createInProcessBus];\n`,
    );
    expect(found).toEqual([expect.stringMatching(/no-restricted-imports: .*worker may import only contract, bus/)]);
  });

  it("production code never imports test code", async () => {
    const found = await problems("packages/worker/src/probe.ts", `export { makeJob } from "../test/helpers.js";\n`);
    expect(found).toEqual([expect.stringMatching(/no-restricted-imports: .*never imports test code/)]);
  });

  it("another package's files are not reached by a relative path, tests included", async () => {
    const found = await problems(
      "packages/coordinator/test/probe.test.ts",
      `export { makeJob } from "../../worker/test/helpers.js";\n`,
    );
    expect(found).toEqual([expect.stringMatching(/import\/no-relative-packages/)]);
  });

  it("connectors and the gateway reach the network only through @tessera/egress", async () => {
    for (const pkg of ["connectors", "gateway"]) {
      const found = await problems(
        `packages/${pkg}/src/probe.ts`,
        `import { request } from "node:https";\nimport { fetch as f } from "undici";\nexport const x = [request, f, fetch];\n`,
      );
      expect(found).toHaveLength(3);
      for (const p of found) expect(p).toMatch(/reaches the network only through @tessera\/egress/);
    }
  });

  it("accepts what the layering allows", async () => {
    expect(
      await problems(
        "packages/coordinator/src/probe.ts",
        `import { SCHEMA_VERSION } from "@tessera/contract";\nimport { ERROR_CODES } from "@tessera/client/schemas";\nexport const x = [SCHEMA_VERSION, ERROR_CODES];\n`,
      ),
    ).toEqual([]);
  });
});
