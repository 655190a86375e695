import { buildInfo } from "./build-info.js";

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

/** The labels of `tessera_build_info`: the build (`buildInfo`, the same answer `/healthz` gives). */
export const buildInfoLabels = buildInfo;
