import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

/** What `scripts/cluster-binaries.sh` built, read from the manifest.json it writes in its cache folder. */
export interface ClusterBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  keda: string;
  natsServer: string;
  /** The folder holding KEDA's CRDs, from the same module as the operator (cached apart from it). */
  kedaCrds: string;
  versions: Record<string, string>;
}

interface Manifest {
  binaries: Record<string, { version: string; path: string } | undefined>;
  kedaCrds: string;
}

/** The script's cache folder, computed as it computes it (TESSERA_CLUSTER_BIN overrides both). */
export function clusterBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env["TESSERA_CLUSTER_BIN"];
  if (override !== undefined && override !== "") return override;
  const cache =
    env["XDG_CACHE_HOME"] !== undefined && env["XDG_CACHE_HOME"] !== ""
      ? env["XDG_CACHE_HOME"]
      : join(homedir(), ".cache");
  return join(cache, "tessera", "cluster-bin");
}

/**
 * The binaries the cluster tier needs. Throws with the command to run when the manifest or a binary is
 * missing, so a cluster test fails with the fix rather than with ENOENT from spawn.
 */
export async function clusterBinaries(
  names: ReadonlyArray<string> = ["etcd", "kube-apiserver"],
): Promise<ClusterBinaries> {
  const file = join(clusterBinDir(), "manifest.json");
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(file, "utf8")) as Manifest;
  } catch {
    throw new Error(
      `no cluster binaries at ${file}: run scripts/cluster-binaries.sh (builds them from the Go module proxy)`,
    );
  }
  const path = (name: string): string => manifest.binaries[name]?.path ?? "";
  const missing = names.filter((n) => path(n) === "");
  if (missing.length > 0)
    throw new Error(
      `${missing.join(", ")} missing from ${file}: run scripts/cluster-binaries.sh (and read why it failed)`,
    );
  const versions: Record<string, string> = {};
  for (const [name, entry] of Object.entries(manifest.binaries))
    if (entry !== undefined) versions[name] = entry.version;
  return {
    etcd: path("etcd"),
    kubeApiserver: path("kube-apiserver"),
    kubeControllerManager: path("kube-controller-manager"),
    keda: path("keda"),
    natsServer: path("nats-server"),
    kedaCrds: manifest.kedaCrds,
    versions,
  };
}
