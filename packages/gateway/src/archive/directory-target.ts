import { mkdir, open, readFile, readdir, rename, rm } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { checkpointPath, CHECKPOINT_DIR, parseCheckpoint, serializeCheckpoint, type ArchiveTarget } from "./target.js";

const TEMP_SUFFIX = ".tmp";

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes to a temporary file beside the target, fsyncs it, renames it over the target and fsyncs the directory:
 * after a crash the path holds the old bytes or the new ones, never a prefix, and a resolved write is on disk.
 */
async function writeDurably(file: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  const temp = file + TEMP_SUFFIX;
  const handle = await open(temp, "w");
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  await fsyncDir(dir);
}

function safeJoin(root: string, path: string): string {
  if (path.split("/").some((part) => part === "" || part === "." || part === ".."))
    throw new Error(`archive path ${JSON.stringify(path)} is not a relative path`);
  return join(root, ...path.split("/"));
}

/** An archive in a local directory (or a mounted volume). */
export function directoryTarget(root: string): ArchiveTarget {
  return {
    write: (path, bytes) => writeDurably(safeJoin(root, path), bytes),
    async remove(path) {
      const file = safeJoin(root, path);
      await rm(file, { force: true });
      await rm(file + TEMP_SUFFIX, { force: true });
    },
    async readCheckpoint(consumer) {
      const file = safeJoin(root, checkpointPath(consumer));
      const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return undefined;
        throw err;
      });
      return bytes === undefined ? undefined : parseCheckpoint(bytes, file);
    },
    writeCheckpoint: (consumer, checkpoint) =>
      writeDurably(safeJoin(root, checkpointPath(consumer)), serializeCheckpoint(checkpoint)),
    async list() {
      const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
      return entries
        .filter((e) => e.isFile())
        .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join("/"))
        .filter((p) => !p.startsWith(`${CHECKPOINT_DIR}/`))
        .sort();
    },
    async read(path) {
      return readFile(safeJoin(root, path)).catch(() => undefined);
    },
  };
}
