/**
 * The components the isolation rows compare, one per path, with the same no-op handler. Kept in a module of
 * their own: a handler thread imports the module that defines its component, and this one imports little.
 */
import { defineComponent, type HandlerContext } from "@tessera/worker";

/** Jobs at once on both paths: one handler thread each on the isolated path. */
export const ISOLATION_CONCURRENCY = 4;

/** The bench's handler everywhere: it reads its input and returns a small output. */
export const noopHandler = async (ctx: HandlerContext): Promise<{ bytes: number }> => ({
  bytes: (await ctx.input.bytes()).byteLength,
});

export const inHandlerThreads = defineComponent({
  name: "bench-isolated",
  concurrency: ISOLATION_CONCURRENCY,
  handle: noopHandler,
});

export const inWorkerThread = defineComponent({
  name: "bench-in-thread",
  concurrency: ISOLATION_CONCURRENCY,
  isolation: "none",
  handle: noopHandler,
});
