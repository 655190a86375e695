import type { FastifyInstance } from "fastify";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * The route changes state: the access guard (access-guard.ts) lets it run only with the admin token,
     * or without one when the server listens on loopback and no token is configured.
     */
    mutating?: boolean;
    /** Write each request of this route to the audit log as this action (`job.cancel`, `dlq.redrive`, …). */
    audit?: string;
    /**
     * The route changes state for any caller holding a one-time secret it checks itself (the OAuth
     * callback, reached by a browser the provider redirected): not behind the admin token. Its refused
     * requests (4xx) are written to the audit log like the access guard's refusals, bounded per client.
     */
    open?: boolean;
  }
}

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Refuses to register a state-changing route without `config.mutating`, so none can slip past the access guard. */
export function requireMutatingFlag(app: FastifyInstance): void {
  app.addHook("onRoute", (route) => {
    const methods = [route.method].flat();
    if (methods.every((m) => READ_METHODS.has(m)) || route.config?.mutating === true) return;
    throw new Error(
      `${methods.join(",")} ${route.url} changes state but lacks config.mutating; the admin-token guard keys on it`,
    );
  });
}
