#!/usr/bin/env node
// The `tessera` launcher. An installed package (dist/ only: src/ is not published) runs the compiled CLI in
// this process, with tsx registered so that the project's own TypeScript (tessera.project.ts, component
// modules) loads. In the monorepo the CLI always runs from its TypeScript source, even when `npm run build`
// has left a dist/ behind that may be older than the source. That needs the @tessera/source export
// condition (to resolve workspace packages to their src/) and tsx. Conditions can only be set when Node
// starts, so this re-executes Node with both and relays the exit status and termination signals.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";
import { URL, fileURLToPath } from "node:url";

const dist = new URL("../dist/main.js", import.meta.url);
const source = fileURLToPath(new URL("../src/main.ts", import.meta.url));

if (!existsSync(source) && existsSync(fileURLToPath(dist))) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(dist.href);
} else {
  // Resolved from here, not from the caller's working directory, which may not see tsx.
  const tsx = import.meta.resolve("tsx");
  const child = spawn(
    process.execPath,
    ["--conditions=@tessera/source", "--import", tsx, source, ...process.argv.slice(2)],
    { stdio: "inherit" },
  );
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
