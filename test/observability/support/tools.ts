import { execFile } from "node:child_process";
import { findExecutable } from "@tessera/testkit";

/** Prometheus's own tools from Debian's `prometheus` package: PROMTOOL_PATH / PROMETHEUS_PATH, else on the PATH. */
export const findTool = (name: "promtool" | "prometheus", env: NodeJS.ProcessEnv = process.env): string | undefined =>
  findExecutable(name, env);

export const MISSING_PROMETHEUS =
  "the observability tests need Debian's prometheus package (promtool and the server): apt-get install -y prometheus (or set PROMTOOL_PATH / PROMETHEUS_PATH); .ci/run installs it";

/**
 * The tool, or undefined after saying why the tests that need it are skipped. With CI=true a missing tool
 * fails instead: CI installs it, so its absence there is a broken install, not a reason to skip.
 */
export function requireTool(name: "promtool" | "prometheus", what: string): string | undefined {
  const path = findTool(name);
  if (path !== undefined) return path;
  if (process.env["CI"] === "true") throw new Error(MISSING_PROMETHEUS);
  console.warn(`skipping ${what}: ${MISSING_PROMETHEUS}`);
  return undefined;
}

/** Runs a tool with `stdin`; resolves with its exit code and output (a non-zero exit is an answer, not a throw). */
export function run(
  file: string,
  args: readonly string[],
  opts: { cwd?: string; stdin?: string } = {},
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { cwd: opts.cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
      if (err !== null && typeof err.code !== "number") return reject(err);
      resolve({ code, output: `${stdout}${stderr}` });
    });
    child.stdin?.end(opts.stdin ?? "");
  });
}
