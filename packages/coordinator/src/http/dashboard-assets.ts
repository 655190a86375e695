import { existsSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply } from "fastify";

/**
 * The dashboard's pages (client-side routes): each answers the single-page app's index.html. Listed
 * rather than a catch-all, so an unknown path (and anything under /api) still gets the JSON 404.
 */
export const DASHBOARD_PAGES = [
  "/",
  "/components",
  "/components/*",
  "/jobs",
  "/jobs/*",
  "/dlq",
  "/audit",
  "/connections",
  "/gateway",
] as const;

// The app talks only to this origin and is never framed (its buttons change state).
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

function notBuilt(root: string, reply: FastifyReply): FastifyReply {
  return reply
    .code(503)
    .type("text/html; charset=utf-8")
    .header("cache-control", "no-store")
    .send(
      `<!doctype html><meta charset="utf-8"><title>Tessera dashboard not built</title>` +
        `<p>The dashboard has not been built: <code>${root}</code> holds no <code>index.html</code>.</p>` +
        `<p>Run <code>npm run build -w @tessera/dashboard</code> (npm ci / npm install run it for you), then reload.</p>` +
        `<p>The admin API works meanwhile: <a href="/openapi.json">/openapi.json</a>.</p>`,
    );
}

/**
 * Serves the built dashboard (Vite's output: index.html and hashed files under assets/) from `root`.
 * Hashed assets are cached for good; index.html is revalidated every time, so a rebuild shows at once.
 */
export async function serveDashboard(app: FastifyInstance, root: string): Promise<void> {
  await app.register(fastifyStatic, {
    root,
    serve: false,
    // index.html sets its own cache-control (revalidate every time).
    cacheControl: false,
    // Dotfiles, directory listings and index fallbacks: none of them.
    dotfiles: "deny",
    index: false,
  });
  await app.register(async (assets) => {
    await assets.register(fastifyStatic, {
      root: join(root, "assets"),
      prefix: "/assets/",
      decorateReply: false,
      immutable: true,
      maxAge: "365d",
      index: false,
      dotfiles: "deny",
    });
  });
  for (const page of DASHBOARD_PAGES) {
    app.get(page, { schema: { hide: true } }, (_request, reply) => {
      if (!existsSync(join(root, "index.html"))) return notBuilt(root, reply);
      return reply
        .header("cache-control", "no-cache")
        .header("content-security-policy", CONTENT_SECURITY_POLICY)
        .header("x-content-type-options", "nosniff")
        .sendFile("index.html", root);
    });
  }
  app.get("/favicon.svg", { schema: { hide: true } }, (_request, reply) => reply.sendFile("favicon.svg", root));
}
