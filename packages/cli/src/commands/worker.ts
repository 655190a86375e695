import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { runWorkerProcess } from "@tessera/worker";
import type { Command } from "commander";
import type { CliIo } from "../cli-io.js";
import { CliError } from "../cli-error.js";
import { componentFromModule } from "../dev/component-from-module.js";
import { ExitCode } from "../exit-codes.js";

/** `tessera worker [module]`: what a component's container runs (the image's default command). */
export function registerWorkerCommand(program: Command, io: CliIo): void {
  program
    .command("worker")
    .description("run a component as a worker process (NATS_URL and TESSERA_* settings from the environment)")
    .argument("[module]", "module whose default export is the component (default: env TESSERA_COMPONENT_MODULE)")
    .action(async (module: string | undefined) => {
      const path = module ?? io.env["TESSERA_COMPONENT_MODULE"];
      if (path === undefined || path === "")
        throw new CliError(
          "no component module: pass it as the argument or set TESSERA_COMPONENT_MODULE",
          ExitCode.Usage,
        );
      let mod: Record<string, unknown>;
      try {
        mod = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
      } catch (err) {
        throw new CliError(`cannot load module ${path}: ${(err as Error).message}`, ExitCode.Failed);
      }
      let definition;
      try {
        definition = componentFromModule(mod, path);
      } catch (err) {
        throw new CliError((err as Error).message, ExitCode.Failed);
      }
      await runWorkerProcess(definition);
    });
}
