import { defineConfig } from "vite";

// `npm run dev -w @tessera/dashboard` serves the UI with hot reload and sends API calls to a running
// `tessera dev` (TESSERA_URL, default http://127.0.0.1:7400). The coordinator serves the built dist/.
const api =
  (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env["TESSERA_URL"] ??
  "http://127.0.0.1:7400";

export default defineConfig({
  root: new URL(".", import.meta.url).pathname,
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", assetsDir: "assets", reportCompressedSize: false },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  server: { host: "127.0.0.1", proxy: { "/api": api, "/openapi.json": api } },
  logLevel: "warn",
});
