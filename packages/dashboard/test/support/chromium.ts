import { findExecutable } from "@tessera/testkit";

/** Debian's `chromium` (apt-get install -y chromium): CHROMIUM_PATH, else `chromium` on the PATH, else /usr/bin/chromium. */
export const findChromium = (env: NodeJS.ProcessEnv = process.env): string | undefined =>
  findExecutable("chromium", env);

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
