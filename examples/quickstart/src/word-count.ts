import { defineComponent, TerminalError } from "@tessera/worker";

/** Counts words. Fails terminally on empty input, and fails once (then succeeds) on input asking for a flake. */
export const wordCount = defineComponent({
  name: "word-count",
  version: "1.0.0",
  concurrency: 4,
  retry: { baseDelayMs: 50, maxDelayMs: 500 },
  async handle(ctx) {
    const text = await ctx.input.text();
    if (text.trim().length === 0)
      throw new TerminalError("empty_input", "there is nothing to count in an empty document");
    if (text.includes("[flaky]") && ctx.attempt === 1)
      throw new Error("simulated transient failure on the first attempt");
    const words = text.split(/\s+/).filter(Boolean);
    return { words: words.length, longest: words.reduce((a, b) => (b.length > a.length ? b : a), "") };
  },
});
