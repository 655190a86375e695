/**
 * `worker-entry <modulePath>`: runs the component a module exports as a worker process (NATS_URL and
 * the other TESSERA_* variables from the environment, see runWorkerProcess). What the dev worker pool
 * starts, so that a component module only has to export its definition.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { runWorkerProcess, type ComponentDefinition } from "@tessera/worker";
import { componentFromModule } from "./component-from-module.js";

function fail(message: string): never {
  process.stderr.write(`tessera worker: ${message}\n`);
  process.exit(1);
}

const modulePath = process.argv[2];
if (modulePath === undefined || modulePath === "")
  fail("usage: worker-entry <module>: the module whose default export is the component to run");
let mod: Record<string, unknown>;
try {
  mod = (await import(pathToFileURL(resolve(modulePath)).href)) as Record<string, unknown>;
} catch (err) {
  fail(`cannot load module ${modulePath}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
}
let definition: ComponentDefinition;
try {
  definition = componentFromModule(mod, modulePath);
} catch (err) {
  fail((err as Error).message);
}
await runWorkerProcess(definition);
