import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * A tool the tests need from a Debian package (chromium, promtool, prometheus, …): `<NAME>_PATH` (for
 * example CHROMIUM_PATH), else `name` on the PATH, else /usr/bin/`name`; undefined when none is executable.
 */
export function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const override = env[`${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_PATH`];
  const candidates = [
    override,
    ...(env["PATH"] ?? "")
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, name)),
    `/usr/bin/${name}`,
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
