import type { Entry, ZipFile } from "yauzl";
import { DocumentTooLargeError, EXTRACT_LIMITS, formatCount } from "./limits.js";

/**
 * A DOCX package as mammoth reads it through its `file` input (lib/unzip.js; its type declarations leave
 * that input out): which parts exist, and a part's bytes or text. Only the parts mammoth asks for are
 * ever inflated.
 */
export interface DocxPackage {
  exists(name: string): boolean;
  read(name: string, encoding?: string): Promise<Uint8Array | string>;
}

export interface DocxPackageLimits {
  entries: number;
  inflatedBytes: number;
}

/**
 * Opens a DOCX (a zip) within `limits`, so a zip bomb costs what the limits allow and no more:
 * - the entry count is read from the end-of-central-directory record, before any entry is;
 * - a part whose central-directory size would take the bytes inflated so far past `inflatedBytes` is
 *   refused before a byte of it is inflated;
 * - while inflating (zlib streams, on libuv's pool), the bytes of all parts read are counted and the read
 *   is stopped at the limit, whatever the headers said; and yauzl fails a part that inflates to more than
 *   its declared size (a directory that lies is a malformed package).
 * Throws DocumentTooLargeError past a limit, yauzl's errors for bytes that are not a zip.
 */
export async function openDocxPackage(
  bytes: Uint8Array,
  limits: DocxPackageLimits = { entries: EXTRACT_LIMITS.docxEntries, inflatedBytes: EXTRACT_LIMITS.docxInflatedBytes },
): Promise<DocxPackage> {
  const { default: yauzl } = await import("yauzl");
  const zipfile = await yauzl.fromBufferPromise(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    lazyEntries: true,
    validateEntrySizes: true,
  });
  if (zipfile.entryCount > limits.entries)
    throw new DocumentTooLargeError(
      `the package has ${formatCount(zipfile.entryCount)} entries, over the limit of ${formatCount(limits.entries)}`,
    );
  const entries = await readEntries(zipfile);
  let inflated = 0;
  const overLimit = (name: string, amount: string): DocumentTooLargeError =>
    new DocumentTooLargeError(
      `part ${name} ${amount}, past the limit of ${formatCount(limits.inflatedBytes)} bytes inflated per document (${formatCount(inflated)} inflated before it)`,
    );
  return {
    exists: (name) => entries.has(name),
    async read(name, encoding) {
      const entry = entries.get(name);
      if (entry === undefined) throw new Error(`the package has no part ${name}`);
      if (entry.uncompressedSize > limits.inflatedBytes - inflated)
        throw overLimit(name, `declares ${formatCount(entry.uncompressedSize)} bytes`);
      const chunks: Buffer[] = [];
      // Parts may be read concurrently: each chunk counts against the one budget as it arrives.
      for await (const chunk of await zipfile.openReadStreamPromise(entry)) {
        const data = chunk as Buffer;
        inflated += data.byteLength;
        if (inflated > limits.inflatedBytes) throw overLimit(name, "inflates to more than that");
        chunks.push(data);
      }
      const data = Buffer.concat(chunks);
      if (encoding === undefined) return data;
      return encoding === "base64" ? data.toString("base64") : new TextDecoder(encoding).decode(data);
    },
  };
}

/** The central directory by name. A name listed twice is refused: which one a reader picks is ambiguous. */
async function readEntries(zipfile: ZipFile): Promise<Map<string, Entry>> {
  const entries = new Map<string, Entry>();
  await new Promise<void>((resolve, reject) => {
    zipfile.on("entry", (entry: Entry) => {
      if (entries.has(entry.fileName)) {
        zipfile.close();
        reject(new Error(`the package lists ${entry.fileName} twice`));
        return;
      }
      entries.set(entry.fileName, entry);
      zipfile.readEntry();
    });
    zipfile.once("end", () => resolve());
    zipfile.once("error", reject);
    zipfile.readEntry();
  });
  return entries;
}
