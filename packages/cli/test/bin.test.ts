import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { tempFiles } from "./helpers/temp-files.js";

const bin = fileURLToPath(new URL("../bin/tessera.js", import.meta.url));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : -1, stdout, stderr });
    });
  });
}

describe("bin/tessera.js (a real process, from the TypeScript source)", () => {
  it("--help exits 0", async () => {
    const result = await run(["--help"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Usage: tessera [options] [command]");
  });

  it("validate forwards exit 1 for a bad manifest and 2 for a missing file", async () => {
    const dir = await tempFiles({
      "bad.yaml": "apiVersion: tessera.dev/v1alpha1\nkind: Component\nmetadata:\n  name: x\nspec: {}\n",
    });
    const bad = await run(["validate", join(dir, "bad.yaml")]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`${join(dir, "bad.yaml")}:5: spec.image: expected `);
    const missing = await run(["validate", join(dir, "missing.yaml")]);
    expect(missing.code).toBe(2);
  });
});
