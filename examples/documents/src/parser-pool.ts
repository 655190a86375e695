import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { ExtractReason } from "./extract-reason.js";
import type { ConversionOutcome } from "./formats/outcome.js";
import { EXTRACT_LIMITS } from "./formats/limits.js";
import type { DocumentFormat } from "./formats/registry.js";

export interface ParseTask {
  format: DocumentFormat;
  bytes: Uint8Array;
  charset: string | undefined;
}

/** The parser thread failed for a reason that is not the document's (it could not start, say): worth a retry. */
export class ParserThreadError extends Error {
  override readonly name = "ParserThreadError";
}

export interface ParserPool {
  /**
   * Converts a document in a parser thread. When `signal` aborts, the thread is terminated at once, even
   * in the middle of a synchronous parse, and the promise rejects; a thread out of heap is a
   * `document_too_large` outcome. Rejects with ParserThreadError when the thread fails otherwise.
   */
  convert(task: ParseTask, signal: AbortSignal): Promise<ConversionOutcome>;
  /** Terminates the threads; the next convert starts new ones. */
  close(): Promise<void>;
}

// The thread's module sits beside this one; run from source (tessera dev, the tests) it is TypeScript,
// and the thread needs tsx's loader to import it (a thread inherits the process's flags, but vitest's
// process has none of tsx's).
const SOURCE_EXTENSION = extname(fileURLToPath(import.meta.url));
const THREAD_MODULE = new URL(`./parser-thread${SOURCE_EXTENSION}`, import.meta.url).href;

/**
 * Parser threads for extract (Piscina, started on the first document). Parsers run here rather than on
 * the host's event loop because they are slow and synchronous (mammoth reads about 0.5 MB of XML a
 * second, html-to-text 1.5 MB), and pdf.js's legacy build replaces JSON.parse and JSON.stringify in the
 * realm that loads it; a thread is a realm of its own. Each thread's heap is capped
 * (EXTRACT_LIMITS.parserHeapMiB), and it runs at a lower CPU priority than the host (where Piscina's
 * optional @napi-rs/nice is installed) so the host's event loop keeps its share of a small machine.
 */
export function createParserPool(options: { threads: number; idleTimeoutMs?: number; heapMiB?: number }): ParserPool {
  const heapMiB = options.heapMiB ?? EXTRACT_LIMITS.parserHeapMiB;
  let pool: Piscina<ParseTask, ConversionOutcome> | undefined;
  const threads = (): Piscina<ParseTask, ConversionOutcome> =>
    (pool ??= new Piscina({
      filename: THREAD_MODULE,
      ...(SOURCE_EXTENSION === ".ts" ? { execArgv: ["--import", import.meta.resolve("tsx")] } : {}),
      minThreads: 0,
      maxThreads: options.threads,
      // A warm thread skips starting tsx and loading its parsers: half a second on an idle machine, seconds
      // on a busy one.
      idleTimeout: options.idleTimeoutMs ?? 30_000,
      resourceLimits: { maxOldGenerationSizeMb: heapMiB },
      niceIncrement: 10,
    }));
  return {
    async convert(task, signal) {
      // The thread gets a copy it owns: the input may be a view into a buffer the payload store still uses.
      const bytes = task.bytes.slice();
      try {
        return await threads().run({ ...task, bytes }, { signal, transferList: [bytes.buffer] });
      } catch (err) {
        // Terminated on purpose: reject with the signal's reason, as an aborted fetch does.
        signal.throwIfAborted();
        if ((err as { code?: unknown }).code === "ERR_WORKER_OUT_OF_MEMORY")
          return {
            ok: false,
            reason: ExtractReason.DocumentTooLarge,
            message: `parsing it needed more than the parser thread's ${heapMiB} MiB heap`,
          };
        throw new ParserThreadError(`the parser thread failed: ${err instanceof Error ? err.message : String(err)}`, {
          cause: err,
        });
      }
    },
    async close() {
      const closing = pool;
      pool = undefined;
      await closing?.destroy();
    },
  };
}
