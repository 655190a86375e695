import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Debian's `chromium` (apt-get install -y chromium): CHROMIUM_PATH, else `chromium` on the PATH, else /usr/bin/chromium. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [
    env["CHROMIUM_PATH"],
    ...(env["PATH"] ?? "")
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, "chromium")),
    "/usr/bin/chromium",
  ];
  for (const candidate of candidates) {
    if (candidate === undefined || candidate === "") continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** The launch flags that work headless in a container, without a browser download or a GPU. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export const MISSING_CHROMIUM =
  "the dashboard's browser tests need Debian's chromium: apt-get install -y chromium (or set CHROMIUM_PATH); .ci/run installs it";
