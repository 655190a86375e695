/**
 * What every Tessera process exports under one name: the build it runs. Each process's own metric names
 * live beside its metrics (coordinator, worker, controller); only what they share is part of the contract,
 * so the dashboards can join any process's series on `version` and `commit`.
 */
export interface MetricName {
  readonly name: string;
  readonly help: string;
}

export const BUILD_INFO_METRIC = {
  name: "tessera_build_info",
  help: "Always 1; the labels say which build this process runs (TESSERA_VERSION, TESSERA_COMMIT)",
} as const satisfies MetricName;

/**
 * The labels of `tessera_build_info`, from the environment the image sets (the deploy pipeline knows the
 * version and commit; the running code cannot find them out by itself once bundled).
 */
export function buildInfoLabels(env: Readonly<Record<string, string | undefined>>): {
  version: string;
  commit: string;
} {
  const pick = (v: string | undefined, fallback: string): string => (v === undefined || v === "" ? fallback : v);
  return { version: pick(env["TESSERA_VERSION"], "dev"), commit: pick(env["TESSERA_COMMIT"], "unknown") };
}
