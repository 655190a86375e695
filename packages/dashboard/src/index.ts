/**
 * The coordinator's web dashboard. The front-end (Preact, built by Vite from `ui/`) is served by the
 * admin API itself, same origin, no second server:
 *
 * ```ts
 * import { startAdminServer } from "@tessera/coordinator";
 * import { dashboardAssetsDir } from "@tessera/dashboard";
 * const admin = await startAdminServer(coordinator, { dashboard: dashboardAssetsDir() });
 * // open `${admin.url}/`
 * ```
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Where `vite build` writes the dashboard (index.html and assets/); `npm ci` builds it (the root `prepare`). */
export function dashboardAssetsDir(): string {
  return fileURLToPath(new URL("../dist/", import.meta.url));
}

/** Whether the dashboard has been built; the admin API serves a page saying how to build it otherwise. */
export function isDashboardBuilt(dir = dashboardAssetsDir()): boolean {
  return existsSync(join(dir, "index.html"));
}
