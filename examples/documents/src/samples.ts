import { readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DOCX_MEDIA_TYPE } from "./formats/registry.js";

export interface Sample {
  /** The file name, shown in the results table. */
  label: string;
  contentType: string;
  bytes: Uint8Array;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".txt": "text/plain; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".htm": "text/html; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".markdown": "text/markdown; charset=utf-8",
  ".docx": DOCX_MEDIA_TYPE,
  ".pdf": "application/pdf",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
};

/** The content type a file is submitted with, from its extension; unknown extensions are opaque bytes. */
export function contentTypeFor(fileName: string): string {
  return CONTENT_TYPES[extname(fileName).toLowerCase()] ?? "application/octet-stream";
}

/**
 * Every regular file in `dir` (hidden files skipped), sorted by name so runs list them in the same order.
 * Synchronous on purpose: it runs once, while a project file is being evaluated.
 */
export function loadSamples(dir: string | URL): Sample[] {
  const path = dir instanceof URL ? fileURLToPath(dir) : dir;
  return readdirSync(path, { withFileTypes: true })
    .filter((entry) => entry.isFile() && !entry.name.startsWith("."))
    .map((entry) => entry.name)
    .sort()
    .map((label) => ({
      label,
      contentType: contentTypeFor(label),
      bytes: new Uint8Array(readFileSync(join(path, label))),
    }));
}
