#!/usr/bin/env node
// The `tessera` launcher. A built package (dist/ present) runs the compiled CLI in this process. In the
// monorepo there is no dist/: the CLI runs from its TypeScript source, which needs the @tessera/source
// export condition (to resolve workspace packages to their src/) and tsx. Conditions can only be set when
// Node starts, so this re-executes Node with both and relays the exit status and termination signals.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";
import { URL, fileURLToPath } from "node:url";

const dist = new URL("../dist/main.js", import.meta.url);

if (existsSync(fileURLToPath(dist))) {
  await import(dist.href);
} else {
  const source = fileURLToPath(new URL("../src/main.ts", import.meta.url));
  // Resolved from here, not from the caller's working directory, which may not see tsx.
  const tsx = import.meta.resolve("tsx");
  const child = spawn(process.execPath, ["--conditions=@tessera/source", "--import", tsx, source, ...process.argv.slice(2)], { stdio: "inherit" });
  // Ctrl-C reaches the child directly (same terminal process group); the launcher only must not die first.
  process.on("SIGINT", () => {});
  for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("error", (err) => {
    process.stderr.write(`tessera: cannot start ${process.execPath}: ${err.message}\n`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    if (signal !== null) {
      // Die of the same signal, so the caller sees what happened to the CLI.
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else {
      process.exit(code ?? 1);
    }
  });
}
