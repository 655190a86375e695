import { readFileSync } from "node:fs";
import type { ContentRef } from "@tessera/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import chunkEmbed, { ChunkEmbedReason, type ChunkEmbedOutput, type EmbeddingsPayload } from "../src/chunk-embed.js";
import { embed, LOCAL_EMBEDDING_MODEL } from "../src/local-embedding.js";
import { startInProcessPipeline, type InProcessPipeline } from "./in-process-pipeline.js";

const SHARED_CONFIG = { "embedding.model": LOCAL_EMBEDDING_MODEL, "embedding.dimension": 64 };
const GUIDE = readFileSync(new URL("../samples/field-guide.md", import.meta.url), "utf8");

let pipeline: InProcessPipeline;
beforeAll(async () => {
  pipeline = await startInProcessPipeline([chunkEmbed]);
});
afterAll(() => pipeline.stop());

const run = (input: unknown, sharedConfig: Record<string, unknown> = SHARED_CONFIG) =>
  pipeline.run("chunk-embed", { contentType: "application/json", input, sharedConfig });

async function readVectors(jobId: string, ref: ContentRef): Promise<EmbeddingsPayload> {
  return JSON.parse(
    new TextDecoder().decode(await pipeline.bus.payloads.get(ref, { jobId, maxBytes: 10_000_000 })),
  ) as EmbeddingsPayload;
}

describe("chunk-embed on the in-process bus", () => {
  it("chunks and embeds with the stamped model and dimension, vectors stored as a payload", async () => {
    const result = await run({
      sourceJobId: "extract-job-1",
      text: GUIDE,
      title: "A field guide to chunking",
      format: "markdown",
    });
    expect(result).toMatchObject({ status: "completed", attempt: 1 });
    const data = result.output?.data as ChunkEmbedOutput;
    expect(data).toMatchObject({
      sourceJobId: "extract-job-1",
      title: "A field guide to chunking",
      model: LOCAL_EMBEDDING_MODEL,
      dimension: 64,
    });
    expect(data.chunks).toBeGreaterThan(1);
    expect(data.vectors).toHaveLength(data.chunks);
    for (const [i, summary] of data.vectors.entries()) {
      expect(summary.index).toBe(i);
      expect(summary.end - summary.start).toBeLessThanOrEqual(800);
      expect(summary.preview.length).toBeLessThanOrEqual(40);
      expect(summary.norm).toBe(1);
    }
    expect(data.vectors[0]?.preview).toBe("# A field guide to chunking Search over ");

    const payload = await readVectors(result.job_id, data.vectorsRef);
    expect(payload).toMatchObject({ sourceJobId: "extract-job-1", model: LOCAL_EMBEDDING_MODEL, dimension: 64 });
    expect(payload.vectors).toHaveLength(data.chunks);
    const first = data.vectors[0];
    expect(payload.vectors[0]).toEqual(embed(GUIDE.slice(first?.start, first?.end), 64));
    expect(data.firstValues).toEqual(payload.vectors[0]?.slice(0, 3).map((v) => Math.round(v * 1e4) / 1e4));
  });

  it("gives the same output for the same input (deterministic embedding)", async () => {
    const input = { sourceJobId: "extract-job-2", text: "Same text, same vectors." };
    const [a, b] = await Promise.all([run(input), run(input)]);
    const { vectorsRef: _a, ...summaryA } = a.output?.data as ChunkEmbedOutput;
    const { vectorsRef: _b, ...summaryB } = b.output?.data as ChunkEmbedOutput;
    expect(summaryA).toEqual(summaryB);
  });

  it("accepts the dimension as a string, as settings from the environment arrive", async () => {
    const result = await run(
      { sourceJobId: "j", text: "Some text." },
      { ...SHARED_CONFIG, "embedding.dimension": "16" },
    );
    expect(result.output?.data).toMatchObject({ dimension: 16, chunks: 1 });
  });

  it("fails a job stamped with another embedding model as unsupported_embedding_model", async () => {
    const result = await run(
      { sourceJobId: "j", text: "Some text." },
      { ...SHARED_CONFIG, "embedding.model": "text-embedding-3-small" },
    );
    expect(result).toMatchObject({
      status: "failed",
      attempt: 1,
      reason_code: ChunkEmbedReason.UnsupportedEmbeddingModel,
    });
    expect(result.reason_detail).toContain("text-embedding-3-small");
    expect(result.reason_detail).toContain(LOCAL_EMBEDDING_MODEL);
  });

  it("fails a job without embedding config as unsupported_embedding_model, saying what is missing", async () => {
    const result = await run({ sourceJobId: "j", text: "Some text." }, {});
    expect(result).toMatchObject({ status: "failed", reason_code: ChunkEmbedReason.UnsupportedEmbeddingModel });
    expect(result.reason_detail).toContain("no embedding.model");
  });

  it.each([0, -3, 2.5, "64px", 100_000, undefined])(
    "fails embedding.dimension %s as invalid_embedding_config",
    async (dimension) => {
      const result = await run(
        { sourceJobId: "j", text: "Some text." },
        { "embedding.model": LOCAL_EMBEDDING_MODEL, "embedding.dimension": dimension },
      );
      expect(result).toMatchObject({ status: "failed", reason_code: ChunkEmbedReason.InvalidEmbeddingConfig });
    },
  );

  it.each([
    ["a string", "just text", "got string"],
    ["an array", [1, 2], "got an array"],
    ["no sourceJobId", { text: "t" }, "sourceJobId"],
    ["text that is not a string", { sourceJobId: "j", text: 42 }, "text must be a string, got number"],
    ["blank text", { sourceJobId: "j", text: " \n " }, "text is empty"],
    ["a title that is not a string", { sourceJobId: "j", text: "t", title: 7 }, "title must be a string"],
  ])("fails input with %s as invalid_input", async (_what, input, detail) => {
    const result = await run(input);
    expect(result).toMatchObject({ status: "failed", attempt: 1, reason_code: "invalid_input" });
    expect(result.reason_detail).toContain(detail);
  });
});
