import { ReasonCode, type ContentRef } from "@tessera/contract";
import { defineComponent, TerminalError } from "@tessera/worker";
import { chunkText } from "./chunking.js";
import { embed, l2Norm, LOCAL_EMBEDDING_MODEL } from "./local-embedding.js";

/** Why chunk-embed fails a job, besides the platform's `invalid_input`. All terminal: retrying changes nothing. */
export const ChunkEmbedReason = {
  UnsupportedEmbeddingModel: "unsupported_embedding_model",
  InvalidEmbeddingConfig: "invalid_embedding_config",
} as const;

export interface ChunkEmbedInput {
  /** The extract job the text came from. */
  sourceJobId: string;
  text: string;
  title?: string;
}

export interface ChunkSummary {
  index: number;
  /** Offsets into the input text (UTF-16 code units): `text.slice(start, end)` is the chunk. */
  start: number;
  end: number;
  /** The chunk's first 40 characters, whitespace collapsed. */
  preview: string;
  /** The vector's L2 norm: 1, or 0 for the zero vector (a chunk without a word). */
  norm: number;
}

/**
 * The Result's `output.data`: a summary small enough to stay inline and print as a table. The vectors
 * themselves (dimension × chunks numbers, easily past the 64 KiB inline limit) are in the payload store
 * at `vectorsRef`, as JSON (EmbeddingsPayload).
 */
export interface ChunkEmbedOutput {
  sourceJobId: string;
  title?: string;
  model: string;
  dimension: number;
  chunks: number;
  /** The first vector's first three values rounded to 4 decimals: enough to see at a glance that runs agree. */
  firstValues: number[];
  vectors: ChunkSummary[];
  vectorsRef: ContentRef;
}

/** What `vectorsRef` points to. `vectors[i]` belongs to `ChunkEmbedOutput.vectors[i]`. */
export interface EmbeddingsPayload {
  sourceJobId: string;
  model: string;
  dimension: number;
  vectors: number[][];
}

// About three short paragraphs: small enough that a chunk is about one thing, large enough to carry context.
const CHUNK_OPTIONS = { maxChars: 800, overlap: 120 } as const;
const MAX_DIMENSION = 4096;
const PREVIEW_CHARS = 40;

/** Chunks a document's text and embeds each chunk with the model and dimension stamped into the job's shared config. */
export default defineComponent<ChunkEmbedOutput>({
  name: "chunk-embed",
  version: "0.1.0",
  concurrency: 4,
  async handle(ctx) {
    const { model, dimension } = embeddingConfig(ctx.config);
    const input = chunkEmbedInput(await ctx.input.json());
    const chunks = chunkText(input.text, CHUNK_OPTIONS);
    const vectors = chunks.map((chunk) => embed(chunk.text, dimension));
    const payload: EmbeddingsPayload = { sourceJobId: input.sourceJobId, model, dimension, vectors };
    const vectorsRef = await ctx.payloads.put(new TextEncoder().encode(JSON.stringify(payload)));
    return {
      sourceJobId: input.sourceJobId,
      ...(input.title !== undefined ? { title: input.title } : {}),
      model,
      dimension,
      chunks: chunks.length,
      firstValues: (vectors[0] ?? []).slice(0, 3).map((v) => Math.round(v * 1e4) / 1e4),
      vectors: chunks.map((chunk, i) => ({
        index: chunk.index,
        start: chunk.start,
        end: chunk.end,
        preview: preview(chunk.text),
        norm: Math.round(l2Norm(vectors[i] ?? []) * 1e6) / 1e6,
      })),
      vectorsRef,
    };
  },
});

/**
 * The embedding settings from the job's stamped shared config, never from this process's own settings:
 * ingest and search must embed with the same model, so a job submitted for another model fails here
 * instead of writing vectors that search would silently misread.
 */
function embeddingConfig(config: Readonly<Record<string, unknown>>): { model: string; dimension: number } {
  const model = config["embedding.model"];
  if (model !== LOCAL_EMBEDDING_MODEL) {
    const given =
      model === undefined
        ? "no embedding.model in the job's shared config"
        : `embedding.model is ${JSON.stringify(model)}`;
    throw new TerminalError(
      ChunkEmbedReason.UnsupportedEmbeddingModel,
      `${given}; this component implements only ${JSON.stringify(LOCAL_EMBEDDING_MODEL)}: set embedding.model to it in the shared config, or route the job to a component that implements the model`,
    );
  }
  const raw = config["embedding.dimension"];
  // Settings overridden from the environment arrive as strings.
  const dimension = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof dimension !== "number" || !Number.isInteger(dimension) || dimension < 1 || dimension > MAX_DIMENSION) {
    throw new TerminalError(
      ChunkEmbedReason.InvalidEmbeddingConfig,
      `embedding.dimension in the job's shared config must be an integer from 1 to ${MAX_DIMENSION}, got ${JSON.stringify(raw) ?? "nothing"}`,
    );
  }
  return { model, dimension };
}

function chunkEmbedInput(value: unknown): ChunkEmbedInput {
  const problem = (what: string): TerminalError =>
    new TerminalError(
      ReasonCode.InvalidInput,
      `chunk-embed expects JSON {"sourceJobId": string, "text": string, "title"?: string}: ${what}`,
    );
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw problem(`got ${Array.isArray(value) ? "an array" : value === null ? "null" : typeof value}`);
  const { sourceJobId, text, title } = value as Record<string, unknown>;
  if (typeof sourceJobId !== "string" || sourceJobId === "") throw problem("sourceJobId must be a non-empty string");
  if (typeof text !== "string")
    throw problem(`text must be a string, got ${text === undefined ? "nothing" : typeof text}`);
  if (text.trim() === "") throw problem("text is empty: there is nothing to embed");
  if (title !== undefined && typeof title !== "string")
    throw problem(`title must be a string when given, got ${typeof title}`);
  // Fields besides these (extract's format and characters, say) are ignored, so a chain can pass extract's output through.
  return { sourceJobId, text, ...(title !== undefined ? { title } : {}) };
}

function preview(text: string): string {
  return Array.from(text.replace(/\s+/g, " ").trim()).slice(0, PREVIEW_CHARS).join("");
}
