import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { ThreadData } from "./protocol.js";
import { HANDLER_THREAD_MARK } from "./thread-marker.js";

/** What a handler thread loads: the component's module and, from it, the component. */
export interface ThreadTarget {
  module: string;
  component: string;
  logLevel: string;
}

const here = fileURLToPath(import.meta.url);
/** ".ts" when this package runs from its sources (tests, `tessera dev` in this repository), ".js" when built. */
const ownExtension = extname(here);
const SOURCE_CONDITION = "--conditions=@tessera/source";

/**
 * A worker's entry must be a file Node loads by itself, and a TypeScript loader registered in the host does
 * not reach a thread; so a thread starts from this small script, which registers tsx first when the
 * thread must load TypeScript, then imports the thread's side.
 */
const BOOTSTRAP = `const { workerData } = require("node:worker_threads");
(async () => {
  if (workerData.tsx !== undefined) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})();`;

/** Starts a handler thread for `target` with a V8 heap of `heapMiB`. */
export function startHandlerThread(target: ThreadTarget, heapMiB: number): Worker {
  const data: ThreadData & { [HANDLER_THREAD_MARK]: true } = {
    [HANDLER_THREAD_MARK]: true,
    entry: new URL(`./handler-thread${ownExtension}`, import.meta.url).href,
    tsx: needsTypeScript(target.module) ? tsxApi(target.module) : undefined,
    ...target,
  };
  return new Worker(BOOTSTRAP, {
    eval: true,
    workerData: data,
    resourceLimits: { maxOldGenerationSizeMb: heapMiB },
    ...threadExecArgv(),
  });
}

function needsTypeScript(module: string): boolean {
  return ownExtension === ".ts" || /\.[cm]?tsx?$/.test(new URL(module).pathname);
}

/**
 * Run from source, the workspace packages must resolve to their sources in the thread too. Otherwise the
 * thread inherits the host's flags, as Node does by default.
 */
function threadExecArgv(): { execArgv?: string[] } {
  if (ownExtension !== ".ts" || process.execArgv.includes(SOURCE_CONDITION)) return {};
  return { execArgv: [...process.execArgv, SOURCE_CONDITION] };
}

const tsxApis = new Map<string, string>();

/** tsx's ESM register API, found from the component's module (the project that writes TypeScript has tsx) or from here. */
function tsxApi(module: string): string {
  const cached = tsxApis.get(module);
  if (cached !== undefined) return cached;
  for (const from of [module, import.meta.url]) {
    try {
      const packageJson = createRequire(from).resolve("tsx/package.json");
      const exports = (JSON.parse(readFileSync(packageJson, "utf8")) as TsxPackage).exports;
      const target = exports?.["./esm/api"]?.import?.default;
      if (target === undefined) continue;
      const url = pathToFileURL(join(dirname(packageJson), target)).href;
      tsxApis.set(module, url);
      return url;
    } catch {
      // Not resolvable from there: try the next place.
    }
  }
  throw new Error(
    `${module} is TypeScript, and a handler thread needs tsx to load it, which cannot be found from there: install tsx, build the component to JavaScript, or set isolation: "none" (unsafe)`,
  );
}

interface TsxPackage {
  exports?: Record<string, { import?: { default?: string } } | undefined>;
}
