import { readFile, stat } from "node:fs/promises";
import type { SubmitInputBody } from "../admin-client.js";
import { usageError } from "../cli-error.js";
import { expandFilePattern } from "../files/expand-file-pattern.js";

/** The input flags of `jobs submit`; commander has already refused mixing --json-input, --text and files. */
export interface SubmitInputFlags {
  jsonInput?: unknown;
  text?: string;
  file?: string[];
  files?: string[];
}

/** One job with this input, or one job per file. */
export type SubmitPlan = { kind: "single"; input: SubmitInputBody } | { kind: "bulk"; files: string[] };

/** A file's bytes as the API carries them; an unreadable file is a usage error naming the flag. */
export async function fileInput(path: string, flag: string): Promise<SubmitInputBody> {
  try {
    return { base64: (await readFile(path)).toString("base64") };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "it is a directory (use --files for every file in it)"
          : (err as Error).message;
    throw usageError(`${flag}: cannot read ${JSON.stringify(path)}: ${why}`);
  }
}

export async function planSubmit(flags: SubmitInputFlags): Promise<SubmitPlan> {
  if (flags.jsonInput !== undefined) return { kind: "single", input: { json: flags.jsonInput } };
  if (flags.text !== undefined) return { kind: "single", input: { text: flags.text } };
  const named = flags.file ?? [];
  if (flags.files === undefined) {
    if (named.length === 0)
      throw usageError("no input: give --json-input <json>, --text <text>, --file <path> or --files <glob|dir>");
    if (named.length === 1) return { kind: "single", input: await fileInput(named[0] as string, "--file") };
  }
  // Every named file is checked before the first job goes in, so a typo does not stop a run half-way.
  for (const path of named) {
    const info = await stat(path).catch(() => undefined);
    if (info?.isFile() !== true)
      throw usageError(
        `--file: cannot read ${JSON.stringify(path)}: ${info === undefined ? "no such file" : "not a file (use --files for every file in a directory)"}`,
      );
  }
  const matched: string[] = [];
  for (const pattern of flags.files ?? []) {
    const found = await expandFilePattern(pattern);
    if (found.length === 0)
      throw usageError(
        `--files: nothing matches ${JSON.stringify(pattern)} (expected a directory, a glob such as "docs/*.pdf", or a file)`,
      );
    matched.push(...found);
  }
  return { kind: "bulk", files: [...new Set([...named, ...matched])] };
}
