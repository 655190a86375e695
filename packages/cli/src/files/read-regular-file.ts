import { constants, type Stats } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";

/** Why a file was not read: it cannot be opened, it is not a regular file, or it is over the limit. */
export type FileRefusalKind = "unreadable" | "not_a_file" | "too_large";

export class FileRefusedError extends Error {
  override readonly name = "FileRefusedError";
  constructor(
    readonly kind: FileRefusalKind,
    /** What is wrong, in words that follow "cannot read <path>: "; for `too_large`, the size found. */
    readonly reason: string,
    /** The limit, for `too_large`. */
    readonly maxBytes: number,
  ) {
    super(reason);
  }
}

function kindOf(info: Stats): string {
  if (info.isDirectory()) return "a directory";
  if (info.isFIFO()) return "a FIFO (named pipe)";
  if (info.isCharacterDevice()) return "a character device";
  if (info.isBlockDevice()) return "a block device";
  if (info.isSocket()) return "a socket";
  return "not a regular file";
}

/** Reads until the end of the file or until `max + 1` bytes are in, whichever is first. */
async function readAtMost(handle: FileHandle, expected: number, max: number): Promise<Buffer> {
  let buffer = Buffer.allocUnsafe(Math.min(expected, max) + 1);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (length > max) break;
      const bigger = Buffer.allocUnsafe(Math.min(buffer.length * 2, max + 1));
      buffer.copy(bigger, 0, 0, length);
      buffer = bigger;
    }
    const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
    if (bytesRead === 0) break;
    length += bytesRead;
  }
  return buffer.subarray(0, length);
}

/**
 * A regular file's bytes, at most `maxBytes` of them; anything else is a FileRefusedError before a byte is
 * read. Opened without blocking (a FIFO would otherwise wait for a writer) and checked on the open handle, so
 * the path cannot be swapped between the check and the read; a file that grows past the limit after the
 * check (or a /proc file, whose size says 0) is cut off at the limit and refused.
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<Buffer> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileRefusedError(
      "unreadable",
      code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (err as Error).message,
      maxBytes,
    );
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new FileRefusedError("not_a_file", `${kindOf(info)}, not a regular file`, maxBytes);
    if (info.size > maxBytes) throw new FileRefusedError("too_large", `${info.size} bytes`, maxBytes);
    const bytes = await readAtMost(handle, info.size, maxBytes);
    if (bytes.byteLength > maxBytes)
      throw new FileRefusedError("too_large", `more than ${maxBytes} bytes (it grew while being read)`, maxBytes);
    return bytes;
  } finally {
    await handle.close();
  }
}
