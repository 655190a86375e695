import { stat } from "node:fs/promises";
import type { SubmitJobBody } from "@tessera/client";
import { MAX_SUBMIT_FILE_BYTES, SUBMIT_SIZE_LIMIT } from "../admin-client.js";
import { CliError, usageError } from "../cli-error.js";
import { ExitCode } from "../exit-codes.js";
import { expandFilePattern } from "../files/expand-file-pattern.js";
import { FileRefusedError, readRegularFile } from "../files/read-regular-file.js";

/** A file that cannot be a job's input (missing, not a regular file, too large); a bulk submit records it and goes on. */
export class UnsendableFileError extends CliError {
  override readonly name = "UnsendableFileError";
}

/** The flags of `jobs submit`; commander has already refused mixing --json-input, --text, --source-url and files. */
export interface SubmitInputFlags {
  jsonInput?: unknown;
  text?: string;
  file?: string[];
  files?: string[];
  sourceUrl?: string;
  sourceSecret?: string;
}

/** The `input` of a submit: exactly one of json, text, base64 or source_locator. */
type SubmitInputBody = SubmitJobBody["input"];

/** One job with this input, or one job per file. */
export type SubmitPlan = { kind: "single"; input: SubmitInputBody } | { kind: "bulk"; files: string[] };

/**
 * A file's bytes as the API carries them. Only a regular file up to MAX_SUBMIT_FILE_BYTES is read (a device
 * such as /dev/zero, a FIFO or a directory is refused before a byte is read); a file over the limit is refused
 * with exit 1, as the coordinator's 413 would be, anything else unreadable is a usage error naming the flag.
 */
export async function fileInput(path: string, flag: string): Promise<SubmitInputBody> {
  try {
    return { base64: (await readRegularFile(path, MAX_SUBMIT_FILE_BYTES)).toString("base64") };
  } catch (err) {
    if (!(err instanceof FileRefusedError)) throw err;
    if (err.kind === "too_large")
      throw new UnsendableFileError(
        `${flag}: ${JSON.stringify(path)} is too large (${SUBMIT_SIZE_LIMIT}): ${err.reason}`,
        ExitCode.Failed,
      );
    const hint = err.reason.startsWith("a directory") ? " (use --files for every file in it)" : "";
    throw new UnsendableFileError(`${flag}: cannot read ${JSON.stringify(path)}: ${err.reason}${hint}`, ExitCode.Usage);
  }
}

export async function planSubmit(flags: SubmitInputFlags): Promise<SubmitPlan> {
  if (flags.sourceSecret !== undefined && flags.sourceUrl === undefined)
    throw usageError("--source-secret: only with --source-url");
  if (flags.jsonInput !== undefined) return { kind: "single", input: { json: flags.jsonInput } };
  if (flags.text !== undefined) return { kind: "single", input: { text: flags.text } };
  // The coordinator checks the URL (a 400 naming the field); the CLI passes it on as written.
  if (flags.sourceUrl !== undefined)
    return {
      kind: "single",
      input: {
        source_locator: {
          source_url: flags.sourceUrl,
          ...(flags.sourceSecret !== undefined ? { source_secret_ref: flags.sourceSecret } : {}),
        },
      },
    };
  const named = flags.file ?? [];
  if (flags.files === undefined) {
    if (named.length === 0)
      throw usageError(
        "no input: give --json-input <json>, --text <text>, --file <path>, --files <glob|dir> or --source-url <url>",
      );
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
