import { fileURLToPath } from "node:url";
import { spawnTsProcess, type TsProcess } from "./ts-process.js";
import { waitFor } from "./wait-for.js";

const CLI_MAIN = fileURLToPath(new URL("../../cli/src/main.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../../../", import.meta.url));

export interface DevProcess {
  /** The dashboard URL `tessera dev` printed, e.g. http://127.0.0.1:41234/ (the admin API's base URL too). */
  dashboardUrl: string;
  process: TsProcess;
  stop(): Promise<void>;
}

/**
 * Runs `tessera dev <project> --port 0 [args]` as its own process (the CLI from source, as the `tessera`
 * launcher does) and waits for the banner's dashboard URL and, with --samples, for the samples table.
 */
export async function startTesseraDev(
  project: string,
  args: readonly string[],
  env: Record<string, string> = {},
  { readyTimeoutMs = 60_000 } = {},
): Promise<DevProcess> {
  const child = spawnTsProcess(CLI_MAIN, {
    cwd: REPO,
    args: ["dev", project, "--port", "0", ...args],
    env: { LOG_LEVEL: "warn", NO_COLOR: "1", ...env },
  });
  try {
    const dashboardUrl = await waitFor(
      "tessera dev to print its dashboard URL and be ready",
      () => {
        if (child.proc.exitCode !== null)
          throw new Error(`tessera dev exited (${child.proc.exitCode}): ${child.output()}`);
        const out = child.output();
        return out.includes("Ctrl-C to stop") ? /dashboard\s+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1] : undefined;
      },
      readyTimeoutMs,
    );
    return {
      dashboardUrl,
      process: child,
      async stop() {
        // In-memory PGlite and an in-process bus: nothing to drain that a test cares about.
        await child.kill();
      },
    };
  } catch (err) {
    await child.kill();
    throw err;
  }
}
