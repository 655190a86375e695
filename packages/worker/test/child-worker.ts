import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnTsProcess, type TsProcess } from "@tessera/testkit";

const here = dirname(fileURLToPath(import.meta.url));

export type ChildWorker = TsProcess;

/** Starts `test/fixtures/<fixture>` as a worker process, the way a component file is run. */
export function spawnWorker(fixture: string, env: Record<string, string | undefined>): ChildWorker {
  return spawnTsProcess(join(here, "fixtures", fixture), { cwd: join(here, ".."), env });
}

/** SIGKILLs the child if it still runs. */
export async function killWorker(w: ChildWorker): Promise<void> {
  await w.kill();
}
