import type { FastifyInstance } from "fastify";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * The route changes state. The admin-token guard (read-only unless a token is configured when bound
     * to a non-loopback address) will be one preHandler keyed on this flag.
     */
    mutating?: boolean;
  }
}

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Refuses to register a state-changing route without `config.mutating`, so none can slip past that guard. */
export function requireMutatingFlag(app: FastifyInstance): void {
  app.addHook("onRoute", (route) => {
    const methods = [route.method].flat();
    if (methods.every((m) => READ_METHODS.has(m)) || route.config?.mutating === true) return;
    throw new Error(`${methods.join(",")} ${route.url} changes state but lacks config.mutating; the admin-token guard keys on it`);
  });
}
