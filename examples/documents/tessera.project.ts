import { defineProject } from "@tessera/cli";
import type { ChunkEmbedInput, ChunkEmbedOutput } from "./src/chunk-embed.js";
import type { ExtractOutput } from "./src/extract.js";
import { LOCAL_EMBEDDING_MODEL } from "./src/local-embedding.js";
import { loadSamples } from "./src/samples.js";

/**
 * The documents pipeline: `extract` turns a document into text; when it completes, the coordinator
 * submits the text to `chunk-embed`. The embedding model and dimension are shared config, stamped into
 * every job, so the vectors of one ingest run all come from one model whatever changes meanwhile.
 */
export default defineProject({
  name: "documents",
  components: [
    { manifest: "components/extract.yaml", module: "src/extract.ts" },
    // One embedding job per tenant at a time: a stand-in for a provider's per-account quota.
    {
      manifest: "components/chunk-embed.yaml",
      module: "src/chunk-embed.ts",
      limits: { key: "tenant", concurrency: 1 },
    },
  ],
  sharedConfig: { "embedding.model": LOCAL_EMBEDDING_MODEL, "embedding.dimension": 256 },
  onCompleted: {
    extract: async (ctx) => {
      const extracted = JSON.parse(new TextDecoder().decode(await ctx.outputBytes())) as ExtractOutput;
      const input: ChunkEmbedInput = {
        sourceJobId: ctx.job.jobId,
        text: extracted.text,
        ...(extracted.title !== undefined ? { title: extracted.title } : {}),
      };
      await ctx.submit(
        "chunk-embed",
        { json: input },
        ctx.job.envelope.metadata !== undefined ? { metadata: ctx.job.envelope.metadata } : {},
      );
    },
  },
  samples: () =>
    loadSamples(new URL("./samples/", import.meta.url)).map((s) => ({
      component: "extract",
      label: s.label,
      input: { bytes: s.bytes },
      contentType: s.contentType,
      metadata: { tenant: "acme" },
      // The PNG is there to show a terminal failure: extract has no image support.
      ...(s.label.endsWith(".png") ? { expect: "failed" as const } : {}),
    })),
  summarize: {
    extract: (output) => {
      const o = output as ExtractOutput;
      return `${o.format}, ${o.characters} chars${o.title !== undefined ? `, "${o.title}"` : ""}`;
    },
    "chunk-embed": (output) => {
      const o = output as ChunkEmbedOutput;
      return `${o.chunks} chunk${o.chunks === 1 ? "" : "s"} × ${o.dimension}d (${o.model}), v0 [${o.firstValues.join(", ")}…]`;
    },
  },
});
